"""Checks on customer and agent text shared by every support service (no ORM)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError

MAX_MESSAGE_CHARS = 20_000
MAX_COMMENT_CHARS = 5_000


def user_or_none(user: Any) -> Any:
    return user if getattr(user, "is_authenticated", False) else None


def drop_nul(text: str) -> str:
    # PostgreSQL text cannot hold NUL bytes: raw form input with one would fail the INSERT.
    return text.replace("\x00", "")


def question_validate(question: Any) -> str:
    """Strip and check a question: text, not empty, within KB_MAX_QUESTION_CHARS."""
    if not isinstance(question, str):
        raise ValidationError("The question must be text.")
    question = drop_nul(question).strip()
    if not question:
        raise ValidationError("Please type a question.")
    limit = settings.KB_MAX_QUESTION_CHARS
    if len(question) > limit:
        raise ValidationError(
            f"The question is {len(question):,} characters long; the limit is {limit:,}."
        )
    return question


def body_validate(body: Any, *, what: str = "message") -> str:
    if not isinstance(body, str):
        raise ValidationError(f"The {what} must be text.")
    body = drop_nul(body).strip()
    if not body:
        raise ValidationError(f"The {what} is empty.")
    if len(body) > MAX_MESSAGE_CHARS:
        raise ValidationError(f"The {what} is too long (limit {MAX_MESSAGE_CHARS:,} characters).")
    return body


def comment_validate(comment: Any) -> str:
    comment = drop_nul(comment if isinstance(comment, str) else "").strip()
    if len(comment) > MAX_COMMENT_CHARS:
        raise ValidationError(f"The comment is too long (limit {MAX_COMMENT_CHARS:,} characters).")
    return comment
