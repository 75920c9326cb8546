"""Fixed-window rate limiting per client (IP + session) on the Django cache."""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

logger = logging.getLogger(__name__)


@dataclass
class Limited:
    retry_after: int
    limit: int

    @property
    def message(self) -> str:
        return (
            f"Too many requests: the limit is {self.limit} per minute. "
            f"Please try again in {self.retry_after} seconds."
        )


def client_key(request: HttpRequest) -> str:
    """IP address plus session (or API token user): one bucket per client."""
    ip = request.META.get("REMOTE_ADDR", "") or "unknown"
    session = getattr(request, "session", None)
    session_key = session.session_key if session is not None else ""
    user = getattr(request, "user", None)
    user_part = f"u{user.pk}" if user is not None and user.is_authenticated else ""
    raw = f"{ip}|{session_key or ''}|{user_part}"
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def check(request: HttpRequest, *, scope: str) -> Limited | None:
    """Count this request; return Limited when the client is over its per-minute budget."""
    limit = {
        "ask": settings.RATE_LIMIT_ASK_PER_MINUTE,
        "search": settings.RATE_LIMIT_SEARCH_PER_MINUTE,
    }[scope]
    now = time.time()
    window = int(now // 60)
    key = f"rl:{scope}:{client_key(request)}:{window}"
    try:
        # add() is atomic where the backend is (Redis, locmem): first request creates the counter.
        if cache.add(key, 1, timeout=61):
            count = 1
        else:
            try:
                count = cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=61)
                count = 1
    except Exception:
        # The cache (Redis) is down: serve the request unlimited rather than fail it.
        logger.warning("rate limit cache unavailable: %s not counted", scope, exc_info=True)
        return None
    if count > limit:
        return Limited(retry_after=max(1, int(60 - (now % 60)) + 1), limit=limit)
    return None
