"""Small response helpers shared by the portal, widget and thread views (not views)."""

from __future__ import annotations

import json

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.html import escape

from support import ratelimit


def session_key(request: HttpRequest) -> str:
    if not request.session.session_key:
        request.session.save()
    return request.session.session_key or ""


def too_many(request: HttpRequest, limited: ratelimit.Limited, *, fragment: bool = False):
    if fragment or request.headers.get("HX-Request"):
        response = HttpResponse(
            f'<p class="error" role="alert">{escape(limited.message)}</p>', status=429
        )
    elif "text/event-stream" in request.headers.get("Accept", "") or request.path.endswith(
        "/stream/"
    ):
        response = HttpResponse(
            json.dumps({"error": {"code": "throttled", "message": limited.message}}),
            status=429,
            content_type="application/json",
        )
    else:
        response = render(
            request, "support/portal/rate_limited.html", {"limited": limited}, status=429
        )
    response["Retry-After"] = str(limited.retry_after)
    return response


def wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def json_error(message: str, status: int, code: str = "invalid") -> HttpResponse:
    return HttpResponse(
        json.dumps({"error": {"code": code, "message": message, "fields": {}}}),
        status=status,
        content_type="application/json",
    )


def requested_by_this_site(request: HttpRequest) -> bool:
    """False for a GET another site made the browser send (an <img>, a hidden frame).

    View counts and search logs are written on GET; only requests from this site, typed
    or bookmarked URLs, a user's own click from elsewhere, or non-browser clients (no
    Sec-Fetch headers) count, so another site cannot drive them.
    """
    site = request.headers.get("Sec-Fetch-Site")
    if site is None or site in ("same-origin", "none"):
        return True
    return request.headers.get("Sec-Fetch-Mode") == "navigate" and (
        request.headers.get("Sec-Fetch-User") == "?1"
    )
