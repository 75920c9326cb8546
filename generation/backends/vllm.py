"""vLLM (or any OpenAI-compatible server) over HTTP with httpx: streaming, JSON, health.

Connection errors and 5xx before the first token are retried with exponential backoff; every
failed call counts towards a process-wide circuit breaker, so a dead server costs one quick
refusal per request instead of a timeout. Every failure surfaces as an LLMError subclass.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Generator, Iterator
from typing import Any

import httpx

from generation.backends.base import (
    Completion,
    LLMBadResponse,
    LLMCircuitOpen,
    LLMError,
    LLMStreamBroken,
    LLMTimeout,
    LLMUnavailable,
    Usage,
)
from generation.backends.circuit import CircuitBreaker, breaker_for

logger = logging.getLogger(__name__)

_RETRY_STATUS = {429, 500, 502, 503, 504}
_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()


def _client(connect_s: float, read_s: float) -> httpx.Client:
    # One pooled client per timeout pair: keeps connections to vLLM warm between requests.
    key = (connect_s, read_s)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            timeout = httpx.Timeout(read_s, connect=connect_s)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
            client = httpx.Client(timeout=timeout, limits=limits)
            _clients[key] = client
        return client


class _Retry(Exception):
    def __init__(self, error: LLMError) -> None:
        self.error = error


class VLLMStream(Iterator[str]):
    """Iterator of text deltas; `usage`, `model` and `attempts` are filled while it runs."""

    def __init__(self, backend: VLLMBackend, payload: dict) -> None:
        self.usage = Usage()
        self.model = backend.model
        self.attempts = 0
        self._iter = backend._guarded(backend._stream_attempts(payload, self))

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def __next__(self) -> str:
        return next(self._iter)

    def close(self) -> None:
        """Stop reading: closes the HTTP response (vLLM then aborts the generation)."""
        self._iter.close()


class VLLMBackend:
    """An OpenAI-compatible chat-completions client for vLLM."""

    name = "vllm"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        connect_timeout: float = 3.0,
        read_timeout: float = 30.0,
        total_timeout: float = 120.0,
        max_retries: int = 2,
        backoff_s: float = 0.25,
        temperature: float = 0.1,
        json_mode: str = "response_format",
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.total_timeout = total_timeout
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.temperature = temperature
        self.json_mode = json_mode
        self.breaker = breaker or breaker_for(self.base_url, failures=3, reset_s=30.0)

    # --- plumbing -----------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def _payload(
        self, messages: list[dict], *, max_tokens: int, stream: bool, json_schema: dict | None
    ) -> dict:
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": self.temperature,
            "stream": stream,
        }
        if stream:
            payload["stream_options"] = {"include_usage": True}
        if json_schema is not None:
            payload["temperature"] = 0.0
            if self.json_mode == "guided_json":
                payload["guided_json"] = json_schema  # vLLM < 0.12
            elif self.json_mode == "structured_outputs":
                payload["structured_outputs"] = {"json": json_schema}  # vLLM >= 0.10
            else:
                payload["response_format"] = {
                    "type": "json_schema",
                    "json_schema": {
                        "name": str(json_schema.get("title") or "output"),
                        "schema": json_schema,
                    },
                }
        return payload

    def _sleep_before_retry(self, attempt: int) -> None:
        time.sleep(min(self.backoff_s * (2**attempt), 4.0))

    def _guarded(self, inner: Iterator[str]) -> Generator[str, None, None]:
        """Apply the circuit breaker around a call and turn every failure into an LLMError."""
        if not self.breaker.allow():
            raise LLMCircuitOpen("circuit open: the LLM failed repeatedly; not calling it")
        try:
            yield from inner
        except LLMError:
            self.breaker.record_failure()
            raise
        except GeneratorExit:
            self.breaker.record_success()  # the caller stopped reading; the server was fine
            raise
        except Exception as exc:  # a bug in parsing must still become a clean fallback
            self.breaker.record_failure()
            raise LLMBadResponse(f"unexpected {type(exc).__name__}: {exc}") from exc
        else:
            self.breaker.record_success()

    def _classify(self, exc: httpx.HTTPError, *, started: bool) -> LLMError:
        if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
            return LLMUnavailable(f"cannot connect to {self.base_url}: {exc}")
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeout(f"no data from the LLM within {self.read_timeout}s")
        if started:
            return LLMStreamBroken(f"stream interrupted: {type(exc).__name__}: {exc}")
        return LLMUnavailable(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def _http_error(response: httpx.Response) -> LLMError:
        code = response.status_code
        detail = response.text[:200] if response.is_stream_consumed else ""
        if code in _RETRY_STATUS:
            return LLMUnavailable(f"HTTP {code} {detail}", reason=f"llm_http_{code}")
        return LLMBadResponse(f"HTTP {code} {detail}", reason=f"llm_http_{code}")

    # --- streaming ----------------------------------------------------------------------
    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int, json_schema: dict | None = None
    ) -> VLLMStream:
        """Stream the reply's text deltas (SSE); raises LLMError subclasses while iterating."""
        payload = self._payload(
            messages, max_tokens=max_tokens, stream=True, json_schema=json_schema
        )
        return VLLMStream(self, payload)

    def _stream_attempts(self, payload: dict, state: VLLMStream) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        client = _client(self.connect_timeout, self.read_timeout)
        deadline = time.monotonic() + self.total_timeout
        for attempt in range(self.max_retries + 1):
            state.attempts = attempt + 1
            started = False
            try:
                with client.stream("POST", url, json=payload, headers=self._headers()) as response:
                    if response.status_code >= 400:
                        response.read()
                        error = self._http_error(response)
                        if response.status_code in _RETRY_STATUS:
                            raise _Retry(error)
                        raise error
                    for delta in self._parse_sse(response, state, deadline):
                        started = True
                        yield delta
                    return
            except _Retry as retry:
                last: LLMError = retry.error
            except httpx.HTTPError as exc:
                error = self._classify(exc, started=started)
                # Retry only what failed before any token, and never a slow server (timeout).
                if started or isinstance(error, LLMTimeout):
                    raise error from exc
                last = error
            if attempt < self.max_retries:
                logger.info("LLM attempt %d failed (%s); retrying", attempt + 1, last)
                self._sleep_before_retry(attempt)
        raise last

    def _parse_sse(self, response: httpx.Response, state: VLLMStream, deadline: float):
        saw_data = False
        for line in response.iter_lines():
            if time.monotonic() > deadline:
                raise LLMTimeout(f"the answer took longer than {self.total_timeout}s")
            line = line.strip()
            if not line or line.startswith(":"):
                continue  # keep-alive comments and event separators
            if not line.startswith("data:"):
                if line.split(":", 1)[0] in ("event", "id", "retry"):
                    continue  # other SSE fields: allowed, unused
                if not saw_data:
                    raise LLMBadResponse("the reply is not a server-sent event stream")
                continue
            saw_data = True
            data = line[5:].strip()
            if data == "[DONE]":
                return
            try:
                event = json.loads(data)
            except json.JSONDecodeError as exc:
                raise LLMBadResponse(f"malformed stream chunk: {data[:80]!r}") from exc
            if not isinstance(event, dict):
                raise LLMBadResponse(f"unexpected stream chunk: {data[:80]!r}")
            if "error" in event:
                raise LLMBadResponse(f"error event from the LLM: {str(event['error'])[:200]}")
            if event.get("model"):
                state.model = str(event["model"])
            usage = event.get("usage")
            if isinstance(usage, dict):
                state.usage = Usage(
                    prompt_tokens=int(usage.get("prompt_tokens") or 0),
                    completion_tokens=int(usage.get("completion_tokens") or 0),
                )
            choices = event.get("choices") or []
            if choices:
                delta = (choices[0] or {}).get("delta") or {}
                content = delta.get("content")
                if isinstance(content, str) and content:
                    yield content
        if not saw_data:
            raise LLMBadResponse("empty reply: no server-sent events")
        raise LLMStreamBroken("the stream ended without [DONE]")

    # --- non-streaming ------------------------------------------------------------------
    def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, json_schema: dict | None = None
    ) -> Completion:
        """The whole reply in one response; raises LLMError subclasses."""
        payload = self._payload(
            messages, max_tokens=max_tokens, stream=False, json_schema=json_schema
        )
        result: list[Completion] = []

        def run() -> Iterator[str]:
            result.append(self._complete_attempts(payload))
            yield from ()

        for _ in self._guarded(run()):
            pass
        return result[0]

    def _complete_attempts(self, payload: dict) -> Completion:
        url = f"{self.base_url}/chat/completions"
        client = _client(self.connect_timeout, self.read_timeout)
        for attempt in range(self.max_retries + 1):
            try:
                response = client.post(url, json=payload, headers=self._headers())
            except httpx.HTTPError as exc:
                error = self._classify(exc, started=False)
                if isinstance(error, LLMTimeout):
                    raise error from exc
                last: LLMError = error
            else:
                if response.status_code < 400:
                    return self._parse_completion(response)
                last = self._http_error(response)
                if response.status_code not in _RETRY_STATUS:
                    raise last
            if attempt < self.max_retries:
                self._sleep_before_retry(attempt)
        raise last

    def _parse_completion(self, response: httpx.Response) -> Completion:
        try:
            body = response.json()
            message = body["choices"][0]["message"]
            text = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMBadResponse(f"malformed completion: {response.text[:120]!r}") from exc
        if not isinstance(text, str):
            raise LLMBadResponse("completion content is not text")
        usage = body.get("usage") or {}
        return Completion(
            text=text,
            usage=Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or 0),
                completion_tokens=int(usage.get("completion_tokens") or 0),
            ),
            model=str(body.get("model") or self.model),
        )

    def complete_json(
        self, messages: list[dict[str, str]], schema: dict, *, max_tokens: int
    ) -> dict[str, Any]:
        """A JSON object constrained by schema (guided decoding); raises LLMError."""
        completion = self.complete(messages, max_tokens=max_tokens, json_schema=schema)
        text = completion.text.strip()
        fenced = re.match(r"^```(?:json)?\s*(.*?)\s*```$", text, re.DOTALL)
        if fenced:
            text = fenced.group(1)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LLMBadResponse(f"the model did not return JSON: {text[:120]!r}") from exc
        if not isinstance(value, dict):
            raise LLMBadResponse("the model's JSON is not an object")
        missing = [k for k in schema.get("required", []) if k not in value]
        if missing:
            raise LLMBadResponse(f"the model's JSON lacks required keys: {missing}")
        return value

    # --- health -------------------------------------------------------------------------
    def health(self) -> dict[str, Any]:
        """GET /models: {"ok", "models", "model_available", "circuit", "error"}."""
        out: dict[str, Any] = {
            "ok": False,
            "backend": self.name,
            "base_url": self.base_url,
            "model": self.model,
            "models": [],
            "model_available": False,
            "circuit": self.breaker.state,
            "error": "",
        }
        try:
            client = _client(self.connect_timeout, min(self.read_timeout, 5.0))
            response = client.get(f"{self.base_url}/models", headers=self._headers())
            if response.status_code >= 400:
                out["error"] = f"HTTP {response.status_code}"
                return out
            models = [str(m.get("id")) for m in response.json().get("data", [])]
        except (httpx.HTTPError, ValueError, AttributeError, TypeError) as exc:
            out["error"] = f"{type(exc).__name__}: {exc}"[:300]
            return out
        out["models"] = models
        out["model_available"] = self.model in models
        out["ok"] = out["model_available"]
        if not out["ok"]:
            out["error"] = f"model {self.model!r} is not served (served: {', '.join(models)})"
        return out
