"""Response headers that the settings promise: Content-Security-Policy."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse


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
