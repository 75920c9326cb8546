"""Helpers for insights tests: hand-made support logs with controlled timestamps."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from support.models import ArticleFlag, Conversation, Feedback, Interaction, Message, SearchLog

NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(autouse=True)
def _insights_settings(settings) -> None:
    # Users are created per test: a fast hasher keeps fixtures cheap (never in production).
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.LLM_BASE_URL = ""
    # The fake embedder scores paraphrases lower than the real model does.
    settings.INSIGHTS_CLUSTER_THRESHOLD = 0.45
    settings.INSIGHTS_MIN_CLUSTER_SIZE = 2
    settings.INSIGHTS_REOPEN_GROWTH_FACTOR = 2.0
    settings.INSIGHTS_MIN_NEGATIVE_ANSWERS = 2
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.2
    settings.ANSWER_MIN_CONFIDENCE_INTERNAL = 0.1


def _at(days_ago: float, now: dt.datetime = NOW) -> dt.datetime:
    return now - dt.timedelta(days=days_ago)


def log_question(
    question: str,
    *,
    session: str,
    days_ago: float = 1,
    abstained: bool = False,
    escalated: bool = False,
    helpful: bool | None = None,
    comment: str = "",
    cited=(),
    agent_reply: str = "",
    audience: str = "public",
    now: dt.datetime = NOW,
) -> Interaction:
    """One logged interaction (and its feedback / escalation conversation) at a fixed time."""
    interaction = Interaction.objects.create(
        question=question,
        session_key=session,
        abstained=abstained,
        escalated=escalated,
        audience=audience,
        answer_text="" if abstained else "Some answer [1].",
    )
    when = _at(days_ago, now)
    Interaction.objects.filter(pk=interaction.pk).update(created_at=when)
    interaction.created_at = when
    if cited:
        interaction.cited_articles.set(list(cited))
    if helpful is not None or comment:
        fb = Feedback.objects.create(interaction=interaction, helpful=helpful, comment=comment)
        Feedback.objects.filter(pk=fb.pk).update(created_at=when)
    if agent_reply:
        conv = Conversation.objects.create(subject=question[:100], source_interaction=interaction)
        Message.objects.create(conversation=conv, role="customer", body=question)
        Message.objects.create(conversation=conv, role="agent", body=agent_reply)
    return interaction


def flag_article(article, *, reason: str = "outdated", comment: str = "", days_ago: float = 1):
    flag = ArticleFlag.objects.create(article=article, reason=reason, comment=comment)
    ArticleFlag.objects.filter(pk=flag.pk).update(created_at=_at(days_ago))
    return flag


def log_search(query: str, *, results: int, days_ago: float = 1) -> SearchLog:
    entry = SearchLog.objects.create(query=query, results_count=results)
    SearchLog.objects.filter(pk=entry.pk).update(created_at=_at(days_ago))
    return entry


@pytest.fixture
def fake_llm(settings) -> Iterator:
    """A local server speaking the OpenAI chat-completions protocol (tests/generation's)."""
    from generation.backends import circuit
    from tests.generation.fake_vllm import FakeVLLM

    server = FakeVLLM(model="fake-model").start()
    circuit.reset_all()
    settings.LLM_BASE_URL = server.base_url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_API_KEY = ""
    settings.LLM_TIMEOUT_SECONDS = 2.0
    settings.LLM_MAX_RETRIES = 0
    yield server
    server.stop()
    circuit.reset_all()
