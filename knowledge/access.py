"""The one role check for server-rendered views: sign-in first, then the role, with a 403
page that says what is missing. Used by the editor, the insights pages and agent assist."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from knowledge import roles

EDITOR_ROLES = "an editor, reviewer or admin"

View = Callable[..., HttpResponse]


def forbidden(request: HttpRequest, explanation: str) -> HttpResponse:
    return render(request, "knowledge/403.html", {"explanation": explanation}, status=403)


def role_required(
    check: Callable[[Any], bool] = roles.is_editor,
    explanation: str = f"The knowledge editor is for {EDITOR_ROLES}.",
) -> Callable[[View], View]:
    """Login required; then `check(user)`, else a 403 page with `explanation` (or with the
    message of a PermissionDenied the view raises)."""

    def decorator(view: View) -> View:
        @functools.wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not check(request.user):
                return forbidden(request, explanation)
            try:
                return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return forbidden(request, str(exc) or explanation)

        return wrapped

    return decorator


editor_required = role_required()
reviewer_required = role_required(
    roles.can_review,
    "Only reviewers and admins can review, publish or archive articles. "
    "Ask a reviewer, or an admin to give you the reviewer role.",
)
agent_required = role_required(roles.is_agent, "Agent assist is for agents, editors and admins.")
