"""The shared HTTP base of every LLM backend: pooled clients, retries, backoff, circuit breaker.

A provider module subclasses HTTPBackend and writes only its wire format; it gets bounded
retries with exponential backoff before the first token (connect errors, 429 and 5xx), a
process-wide circuit breaker per endpoint (a dead server costs one quick refusal per request
instead of a timeout) and the rule that every failure surfaces as an LLMError subclass.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Generator, Iterator
from typing import TypeVar

import httpx

from generation.backends.base import (
    LLMBadResponse,
    LLMCircuitOpen,
    LLMError,
    LLMStreamBroken,
    LLMTimeout,
    LLMUnavailable,
)
from generation.backends.circuit import CircuitBreaker, breaker_for

logger = logging.getLogger(__name__)

RETRY_STATUS = frozenset({429, 500, 502, 503, 504})
_clients: dict[tuple, httpx.Client] = {}
_clients_lock = threading.Lock()
T = TypeVar("T")


def pooled_client(connect_s: float, read_s: float) -> httpx.Client:
    """One pooled client per timeout pair: keeps connections to the server warm."""
    key = (connect_s, read_s)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            timeout = httpx.Timeout(read_s, connect=connect_s)
            limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
            client = httpx.Client(timeout=timeout, limits=limits)
            _clients[key] = client
        return client


class Retry(Exception):
    """Raised inside an attempt: this failure may be retried (5xx/429 before any token)."""

    def __init__(self, error: LLMError) -> None:
        self.error = error


class HTTPBackend:
    """Base of HTTP LLM backends: owns timeouts, retries, backoff and the circuit breaker."""

    name = "http"

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
        self.breaker = breaker or breaker_for(self.base_url, failures=3, reset_s=30.0)

    # --- HTTP ---------------------------------------------------------------------------
    def client(self, *, read_s: float | None = None) -> httpx.Client:
        return pooled_client(self.connect_timeout, self.read_timeout if read_s is None else read_s)

    def headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return headers

    def classify(self, exc: httpx.HTTPError, *, started: bool) -> LLMError:
        """An httpx error as the LLMError a caller can record as a fallback reason."""
        if isinstance(exc, httpx.ConnectTimeout | httpx.ConnectError):
            return LLMUnavailable(f"cannot connect to {self.base_url}: {exc}")
        if isinstance(exc, httpx.TimeoutException):
            return LLMTimeout(f"no data from the LLM within {self.read_timeout}s")
        if started:
            return LLMStreamBroken(f"stream interrupted: {type(exc).__name__}: {exc}")
        return LLMUnavailable(f"{type(exc).__name__}: {exc}")

    @staticmethod
    def http_error(response: httpx.Response) -> LLMError:
        """An HTTP error status as an LLMError (llm_http_<code>)."""
        code = response.status_code
        detail = response.text[:200] if response.is_stream_consumed else ""
        if code in RETRY_STATUS:
            return LLMUnavailable(f"HTTP {code} {detail}", reason=f"llm_http_{code}")
        return LLMBadResponse(f"HTTP {code} {detail}", reason=f"llm_http_{code}")

    # --- retries and the breaker ----------------------------------------------------------
    def sleep_before_retry(self, attempt: int) -> None:
        time.sleep(min(self.backoff_s * (2**attempt), 4.0))

    def guarded(self, inner: Iterator[T]) -> Generator[T, None, None]:
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

    def call(self, fn: Callable[[], T]) -> T:
        """One whole (non-streamed) call with retries, under the breaker."""
        result: list[T] = []

        def run() -> Iterator[None]:
            result.append(self.with_retries(fn))
            yield from ()

        for _ in self.guarded(run()):
            pass
        return result[0]

    def with_retries(self, attempt_fn: Callable[[], T]) -> T:
        """Run attempt_fn up to max_retries + 1 times: it raises Retry for retryable errors.

        httpx errors are classified; timeouts are not retried (a slow server stays slow).
        """
        last: LLMError | None = None
        for attempt in range(self.max_retries + 1):
            try:
                return attempt_fn()
            except Retry as retry:
                last = retry.error
            except httpx.HTTPError as exc:
                error = self.classify(exc, started=False)
                if isinstance(error, LLMTimeout):
                    raise error from exc
                last = error
            if attempt < self.max_retries:
                logger.info("LLM attempt %d failed (%s); retrying", attempt + 1, last)
                self.sleep_before_retry(attempt)
        assert last is not None
        raise last

    def stream_with_retries(
        self, attempt_fn: Callable[[], Iterator[T]], *, on_attempt: Callable[[int], None]
    ) -> Iterator[T]:
        """Yield from attempt_fn(), retrying only failures before its first item."""
        last: LLMError | None = None
        for attempt in range(self.max_retries + 1):
            on_attempt(attempt + 1)
            started = False
            try:
                for item in attempt_fn():
                    started = True
                    yield item
                return
            except Retry as retry:
                last = retry.error
            except httpx.HTTPError as exc:
                error = self.classify(exc, started=started)
                # Retry only what failed before any token, and never a slow server (timeout).
                if started or isinstance(error, LLMTimeout):
                    raise error from exc
                last = error
            if attempt < self.max_retries:
                logger.info("LLM attempt %d failed (%s); retrying", attempt + 1, last)
                self.sleep_before_retry(attempt)
        assert last is not None
        raise last
