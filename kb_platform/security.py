"""Middleware for what the settings promise: a Content-Security-Policy on every response, and
early refusal of requests no view can serve safely."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
    QueryDict,
)


class ContentSecurityPolicy:
    """Adds settings.CONTENT_SECURITY_POLICY unless the view set its own.

    Views marked `xframe_options_exempt` (the embeddable widget frame) may be framed by any
    site, so their policy's frame-ancestors is `*` instead of `'none'`.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            if getattr(response, "xframe_options_exempt", False):
                policy = policy.replace("frame-ancestors 'none'", "frame-ancestors *")
            response["Content-Security-Policy"] = policy
        return response


class RejectBadRequests:
    """Refuses, before any view runs, requests no view can serve safely.

    - An unknown Host header: a plain 400 (the error page itself would ask for the host).
    - A NUL character in the query string or path: PostgreSQL cannot compare text with NUL,
      so `?q=%00` was a 500 (an HTML one on the API): NULs are dropped from query
      parameters, and a path with one is a 400.
    - A body larger than MAX_REQUEST_BYTES, multipart included (Django's own limit skips file
      parts): 400 (413 on the API). KB_LARGE_UPLOAD_PATHS (the editor's import) have their
      own, larger limit (KB_MAX_UPLOAD_BYTES).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            request.get_host()
        except DisallowedHost:
            return HttpResponseBadRequest(
                "Bad request: unknown host.", content_type="text/plain; charset=utf-8"
            )
        if "\x00" in request.path:
            return _refuse(request, 400, "bad_request", "The request contains a NUL character.")
        if "%00" in request.META.get("QUERY_STRING", ""):
            pairs = [
                (key.replace("\x00", ""), value.replace("\x00", ""))
                for key, values in request.GET.lists()
                for value in values
            ]
            # NULs dropped, as the services drop them from form input (immutable, as before).
            request.GET = QueryDict(urlencode(pairs))
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if any(request.path.startswith(p) for p in settings.KB_LARGE_UPLOAD_PATHS):
            limit = settings.KB_MAX_UPLOAD_BYTES
        if length > limit:  # as Django's own limit: a 400 page, a 413 JSON error on the API
            message = f"The request body is over the limit of {limit:,} bytes."
            if request.path.startswith("/api/"):
                return _refuse(request, 413, "payload_too_large", message)
            raise RequestDataTooBig(message)  # Django's 400 page
        return self.get_response(request)


def _refuse(request: HttpRequest, status: int, code: str, message: str) -> HttpResponse:
    if request.path.startswith("/api/"):
        body = {"error": {"code": code, "message": message, "fields": {}}}
        return JsonResponse(body, status=status)
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")
