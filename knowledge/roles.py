"""Roles are Django groups: customer (anonymous or no group), agent, editor, reviewer, admin."""

from __future__ import annotations

from typing import Any

from knowledge.audience import Audience

AGENT = "agent"
EDITOR = "editor"
REVIEWER = "reviewer"
ADMIN = "admin"
ROLE_GROUPS = (AGENT, EDITOR, REVIEWER, ADMIN)


def _groups(user: Any) -> set[str]:
    if not getattr(user, "is_authenticated", False):
        return set()
    cached = getattr(user, "_kb_groups", None)
    if cached is None:
        cached = set(user.groups.values_list("name", flat=True))
        user._kb_groups = cached
    return cached


def is_admin(user: Any) -> bool:
    return bool(getattr(user, "is_superuser", False)) or ADMIN in _groups(user)


def is_editor(user: Any) -> bool:
    return is_admin(user) or bool(_groups(user) & {EDITOR, REVIEWER})


def can_review(user: Any) -> bool:
    return (
        is_admin(user)
        or REVIEWER in _groups(user)
        or (getattr(user, "is_authenticated", False) and user.has_perm("knowledge.review_article"))
    )


def is_agent(user: Any) -> bool:
    """Agents, editors and admins all work the support queue and may see internal articles."""
    return is_editor(user) or AGENT in _groups(user)


def role_name(user: Any) -> str:
    if is_admin(user):
        return ADMIN
    if can_review(user):
        return REVIEWER
    if is_editor(user):
        return EDITOR
    if is_agent(user):
        return AGENT
    return "customer"


def audience_for(user: Any) -> Audience:
    """The search audience a user may see: internal for staff roles, public otherwise."""
    return Audience.INTERNAL if is_agent(user) else Audience.PUBLIC
