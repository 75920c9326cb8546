"""A small in-process circuit breaker shared by every request of this process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class CircuitBreaker:
    """Opens after `failures` consecutive failures; lets one trial call through after `reset_s`."""

    def __init__(
        self, *, failures: int, reset_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.failures = failures
        self.reset_s = reset_s
        self._clock = clock
        self._lock = threading.Lock()
        self._consecutive = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        """'closed', 'open' or 'half-open'."""
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_s:
            return "half-open"
        return "open"

    def allow(self) -> bool:
        """May a call go to the server now? In half-open state, only one trial at a time."""
        with self._lock:
            state = self._state()
            if state == "closed":
                return True
            if state == "half-open" and not self._trial_in_flight:
                self._trial_in_flight = True
                return True
            return False

    def record_success(self) -> None:
        with self._lock:
            self._consecutive = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        with self._lock:
            self._consecutive += 1
            self._trial_in_flight = False
            if self._opened_at is not None or self._consecutive >= self.failures:
                # A failed trial re-opens for another full reset period.
                self._opened_at = self._clock()

    def reset(self) -> None:
        """Forget all failures (tests, or an operator after fixing the server)."""
        self.record_success()
        with self._lock:
            self._consecutive = 0


_breakers: dict[tuple, CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(key: str, *, failures: int, reset_s: float) -> CircuitBreaker:
    """The process-wide breaker for one LLM endpoint (re-created if its settings change)."""
    with _breakers_lock:
        breaker = _breakers.get((key,))
        if breaker is None or breaker.failures != failures or breaker.reset_s != reset_s:
            breaker = CircuitBreaker(failures=failures, reset_s=reset_s)
            _breakers[(key,)] = breaker
        return breaker


def reset_all() -> None:
    """Close every breaker (used by tests)."""
    with _breakers_lock:
        _breakers.clear()
