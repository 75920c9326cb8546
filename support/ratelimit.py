"""Fixed-window rate limiting on the Django cache: per client IP first, then per client.

The client IP is REMOTE_ADDR, or with TRUSTED_PROXY_HOPS = N the address N entries from the
right of X-Forwarded-For (what the nearest trusted proxy saw; entries further left are the
client's own claims). A client within that IP is its validated session or signed-in user:
an unknown or forged `sessionid` cookie counts as no session, so sending a random cookie per
request never buys a fresh bucket. Sign-ins are throttled per IP + username and per IP.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import signals as auth_signals
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.views import LoginView
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

logger = logging.getLogger(__name__)


@dataclass
class Limited:
    retry_after: int
    limit: int
    per: str = "minute"

    @property
    def message(self) -> str:
        return (
            f"Too many requests: the limit is {self.limit} per {self.per}. "
            f"Please try again in {self.retry_after} seconds."
        )


def _now() -> float:
    return time.time()


def client_ip(request: HttpRequest) -> str:
    """The client's address, trusting exactly TRUSTED_PROXY_HOPS proxies in front of us."""
    remote = request.META.get("REMOTE_ADDR", "") or "unknown"
    hops = getattr(settings, "TRUSTED_PROXY_HOPS", 0)
    if hops <= 0:
        return remote
    forwarded = [
        p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if p.strip()
    ]
    if not forwarded:
        return remote
    candidate = forwarded[-hops] if len(forwarded) >= hops else forwarded[0]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote


def anonymous_client_key(request: HttpRequest) -> str:
    """A stable, non-reversible key for a cookie-less client (its trusted address, keyed by
    SECRET_KEY): what makes one anonymous widget client count as one customer in insights.
    The "w:" prefix never matches a real session key, so it grants no session's ownership."""
    digest = hmac.new(
        settings.SECRET_KEY.encode(), f"client:{client_ip(request)}".encode(), hashlib.sha256
    )
    return f"w:{digest.hexdigest()[:32]}"


def _validated_session_key(request: HttpRequest) -> str:
    session = getattr(request, "session", None)
    if session is None or not session.session_key:
        return ""
    try:
        # Loading a session whose key is unknown (or forged) resets its key to None.
        session.get("_ratelimit_probe")
    except Exception:  # an unreadable session store counts as no session
        return ""
    return session.session_key or ""


def client_key(request: HttpRequest) -> str:
    """Signed-in user, else IP + validated session: one bucket per client."""
    user = getattr(request, "user", None)
    if user is not None and getattr(user, "is_authenticated", False):
        raw = f"u{user.pk}"
    else:
        raw = f"{client_ip(request)}|{_validated_session_key(request)}"
    return _digest(raw)


def _digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


def _count(key: str, timeout: int) -> int | None:
    """Increment a counter; None when the cache is down."""
    try:
        # add() is atomic where the backend is (Redis, locmem): first request creates the counter.
        if cache.add(key, 1, timeout=timeout):
            return 1
        try:
            return cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=timeout)
            return 1
    except Exception:
        logger.warning("rate limit cache unavailable: %s not counted", key, exc_info=True)
        return None


def check(request: HttpRequest, *, scope: str) -> Limited | None:
    """Count this request; return Limited when its IP or the client is over budget."""
    limit = {
        "ask": settings.RATE_LIMIT_ASK_PER_MINUTE,
        "search": settings.RATE_LIMIT_SEARCH_PER_MINUTE,
    }[scope]
    now = _now()
    window = int(now // 60)
    retry = max(1, int(60 - (now % 60)) + 1)
    # The IP's budget first: many clients may share one address (an office behind NAT), so it
    # is a multiple of the per-client budget; a client cannot escape it by changing cookies.
    ip_limit = limit * settings.RATE_LIMIT_PER_IP_FACTOR
    ip_count = _count(f"rl:{scope}:ip:{_digest(client_ip(request))}:{window}", 61)
    if ip_count is not None and ip_count > ip_limit:
        return Limited(retry_after=retry, limit=ip_limit)
    count = _count(f"rl:{scope}:{client_key(request)}:{window}", 61)
    if count is None:  # the cache (Redis) is down: serve unlimited rather than fail it
        return None
    if count > limit:
        return Limited(retry_after=retry, limit=limit)
    return None


# --- sign-in throttling ------------------------------------------------------------------------


def _login_keys(request: HttpRequest | None, username: str) -> tuple[str, str]:
    ip = client_ip(request) if request is not None else "unknown"
    window = int(_now() // settings.LOGIN_LOCKOUT_SECONDS)
    user_part = _digest(f"{ip}|{(username or '').strip().lower()}")
    return (f"rl:login:{user_part}:{window}", f"rl:login:ip:{_digest(ip)}:{window}")


def login_limited(request: HttpRequest, username: str) -> Limited | None:
    """Too many failed sign-ins for this username from this IP (or from this IP at all)."""
    user_key, ip_key = _login_keys(request, username)
    try:
        user_failures = cache.get(user_key, 0)
        ip_failures = cache.get(ip_key, 0)
    except Exception:
        logger.warning("login throttle cache unavailable", exc_info=True)
        return None
    per_user = settings.LOGIN_MAX_FAILURES
    per_ip = per_user * settings.RATE_LIMIT_PER_IP_FACTOR
    if user_failures >= per_user or ip_failures >= per_ip:
        period = settings.LOGIN_LOCKOUT_SECONDS
        retry = max(1, int(period - (_now() % period)) + 1)
        return Limited(
            retry_after=retry,
            limit=per_user if user_failures >= per_user else per_ip,
            per=f"{period // 60} minutes (failed sign-ins)",
        )
    return None


@receiver(auth_signals.user_login_failed)
def _count_failed_login(sender: Any, credentials: dict, request: HttpRequest | None = None, **kw):
    for key in _login_keys(request, str(credentials.get("username", ""))):
        _count(key, settings.LOGIN_LOCKOUT_SECONDS + 1)


class ThrottledLoginView(LoginView):
    """The sign-in page, refusing (429) further attempts while a client is locked out."""

    template_name = "registration/login.html"

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        limited = login_limited(request, request.POST.get("username", ""))
        if limited is not None:
            response = render(
                request,
                "support/portal/rate_limited.html",
                {"limited": limited},
                status=429,
            )
            response["Retry-After"] = str(limited.retry_after)
            return response
        return super().post(request, *args, **kwargs)


class ThrottledModelBackend(ModelBackend):
    """Username/password sign-in (login page, Django admin) that refuses locked-out clients."""

    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kw: Any,
    ) -> Any:
        if request is not None and login_limited(request, username or "") is not None:
            # PermissionDenied stops every backend and counts as one more failure.
            raise PermissionDenied("Too many failed sign-ins; try again later.")
        return super().authenticate(request, username=username, password=password, **kw)
