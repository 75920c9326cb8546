"""Any OpenAI-compatible chat server over HTTP (vLLM, llama.cpp's server, TGI, ...).

Speaks `/v1/chat/completions` (SSE streaming with usage in the final chunk, whole replies,
JSON-schema output through `response_format`) and `/v1/models`. Retries, backoff and the
circuit breaker come from HTTPBackend; server-specific extras live in their own module
(generation/backends/vllm.py).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx

from generation.backends.base import (
    Completion,
    LLMBadResponse,
    LLMStreamBroken,
    LLMTimeout,
    Usage,
)
from generation.backends.http import RETRY_STATUS, HTTPBackend, Retry


class ChatCompletionStream(Iterator[str]):
    """Iterator of text deltas; `usage`, `model`, `attempts`, `timings` fill while it runs.

    `timings` is the server's own account of the request when it sends one (llama.cpp's
    server does: prompt_ms, predicted_ms); vLLM sends none.
    """

    def __init__(self, backend: OpenAICompatibleBackend, payload: dict) -> None:
        self.usage = Usage()
        self.model = backend.model
        self.attempts = 0
        self.timings: dict[str, Any] = {}
        self._iter = backend.guarded(backend._stream_attempts(payload, self))

    def __iter__(self) -> Iterator[str]:
        return self._iter

    def __next__(self) -> str:
        return next(self._iter)

    def close(self) -> None:
        """Stop reading: closes the HTTP response (the server then aborts the generation)."""
        self._iter.close()


class OpenAICompatibleBackend(HTTPBackend):
    """A chat-completions client for any server speaking the OpenAI API."""

    name = "openai"

    def __init__(self, *, temperature: float = 0.1, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.temperature = temperature

    # --- payloads -----------------------------------------------------------------------
    def json_fields(self, json_schema: dict) -> dict[str, Any]:
        """The request fields asking for JSON that follows json_schema (OpenAI's form)."""
        return {
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": str(json_schema.get("title") or "output"),
                    "schema": json_schema,
                },
            }
        }

    def payload(
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
            payload.update(self.json_fields(json_schema))
        return payload

    # --- streaming ----------------------------------------------------------------------
    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int, json_schema: dict | None = None
    ) -> ChatCompletionStream:
        """Stream the reply's text deltas (SSE); raises LLMError subclasses while iterating."""
        payload = self.payload(
            messages, max_tokens=max_tokens, stream=True, json_schema=json_schema
        )
        return ChatCompletionStream(self, payload)

    def _stream_attempts(self, payload: dict, state: ChatCompletionStream) -> Iterator[str]:
        url = f"{self.base_url}/chat/completions"
        client = self.client()
        deadline = time.monotonic() + self.total_timeout

        def attempt() -> Iterator[str]:
            with client.stream("POST", url, json=payload, headers=self.headers()) as response:
                if response.status_code >= 400:
                    response.read()
                    error = self.http_error(response)
                    if response.status_code in RETRY_STATUS:
                        raise Retry(error)
                    raise error
                yield from self._parse_sse(response, state, deadline)

        def count(n: int) -> None:
            state.attempts = n

        yield from self.stream_with_retries(attempt, on_attempt=count)

    def _parse_sse(
        self, response: httpx.Response, state: ChatCompletionStream, deadline: float
    ) -> Iterator[str]:
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
                state.usage = _usage(usage)
            if isinstance(event.get("timings"), dict):
                state.timings = event["timings"]
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
        payload = self.payload(
            messages, max_tokens=max_tokens, stream=False, json_schema=json_schema
        )
        url = f"{self.base_url}/chat/completions"
        client = self.client()

        def attempt() -> Completion:
            response = client.post(url, json=payload, headers=self.headers())
            if response.status_code < 400:
                return self._parse_completion(response)
            error = self.http_error(response)
            if response.status_code in RETRY_STATUS:
                raise Retry(error)
            raise error

        return self.call(attempt)

    def _parse_completion(self, response: httpx.Response) -> Completion:
        try:
            body = response.json()
            message = body["choices"][0]["message"]
            text = message.get("content") or ""
        except (ValueError, KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMBadResponse(f"malformed completion: {response.text[:120]!r}") from exc
        if not isinstance(text, str):
            raise LLMBadResponse("completion content is not text")
        return Completion(
            text=text,
            usage=_usage(body.get("usage") or {}),
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
            response = self.client(read_s=min(self.read_timeout, 5.0)).get(
                f"{self.base_url}/models", headers=self.headers()
            )
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


def _usage(usage: dict) -> Usage:
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
    )
