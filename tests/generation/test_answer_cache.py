"""First-turn answers are cached per question, audience and index version."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from generation import answer_cache
from generation import services as generation
from generation.types import Turn
from knowledge import services as kb
from retrieval import services as retrieval
from tests.factories import make_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def cached_kb(settings, reviewer, monkeypatch):
    settings.ANSWER_CACHE_SECONDS = 60
    cache.clear()
    public = make_article(
        author=reviewer,
        title="Reset your password",
        body="Open Settings and press Reset password. The link is valid for 24 hours.",
    )
    internal = make_article(
        author=reviewer,
        title="Password reset override",
        body="Agents reset a password with the override form after an identity check.",
        visibility="internal",
    )
    retrieval.index_rebuild()
    searches: list[str] = []
    real_search = retrieval.search

    def counting_search(query, **kwargs):
        searches.append(query)
        return real_search(query, **kwargs)

    monkeypatch.setattr(retrieval, "search", counting_search)
    yield {"public": public, "internal": internal, "searches": searches}
    cache.clear()


def test_repeated_question_is_served_from_the_cache(cached_kb):
    first = generation.answer_question("How do I reset my password?", audience="public")
    again = generation.answer_question("How do I  reset my password?", audience="public")
    assert len(cached_kb["searches"]) == 1, "the second ask ran retrieval again"
    assert not first.from_cache and again.from_cache
    assert again.text == first.text and again.citations == first.citations
    assert again.question == "How do I reset my password?"


def test_a_publish_invalidates_cached_answers(cached_kb, reviewer, admin_user):
    before = generation.answer_question("How long is the reset link valid?", audience="public")
    article = cached_kb["public"]
    revision = kb.revision_save(
        article=article,
        title=article.title,
        body="Open Settings and press Reset password. The link is valid for 48 hours.",
        author=reviewer,
        base_revision_id=article.latest_revision_id,
    )
    kb.revision_publish(revision=revision, published_by=admin_user)  # four eyes
    retrieval.article_index(article_id=article.pk)
    after = generation.answer_question("How long is the reset link valid?", audience="public")
    assert not after.from_cache
    assert "24 hours" in before.text and "48 hours" in after.text


def test_audiences_never_share_cached_answers(cached_kb):
    question = "How do agents reset a password with the override form?"
    internal = generation.answer_question(question, audience="internal")
    public = generation.answer_question(question, audience="public")
    assert not public.from_cache
    internal_id = cached_kb["internal"].pk
    assert any(c.article_id == internal_id for c in internal.citations)
    assert all(c.article_id != internal_id for c in public.citations)


def test_follow_ups_and_disabled_cache_are_not_cached(cached_kb, settings):
    history = [Turn(role="user", content="Hi"), Turn(role="assistant", content="Hello")]
    generation.answer_question("How do I reset my password?", audience="public", history=history)
    generation.answer_question("How do I reset my password?", audience="public", history=history)
    assert len(cached_kb["searches"]) == 2
    settings.ANSWER_CACHE_SECONDS = 0
    generation.answer_question("Reset link validity?", audience="public")
    assert not generation.answer_question("Reset link validity?", audience="public").from_cache


def test_a_broken_cache_never_breaks_answering(cached_kb, monkeypatch):
    def broken(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(answer_cache.cache, "get", broken)
    monkeypatch.setattr(answer_cache.cache, "set", broken)
    answer = generation.answer_question("How do I reset my password?", audience="public")
    assert answer.text and not answer.from_cache


def test_llm_fallback_answers_are_not_cached(cached_kb, settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens: the LLM is down
    settings.LLM_MODEL = "down"
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_CONNECT_TIMEOUT_SECONDS = 0.2
    from generation.backends import circuit

    circuit.reset_all()
    try:
        first = generation.answer_question("How do I reset my password?", audience="public")
        again = generation.answer_question("How do I reset my password?", audience="public")
    finally:
        circuit.reset_all()
    assert first.fallback_reason and again.fallback_reason
    assert not again.from_cache


def test_settings_that_change_the_answer_change_the_key(cached_kb, settings):
    question = "How do I reset my password?"
    base = answer_cache.key(question, "public")
    assert base is not None and answer_cache.key(question, "public") == base
    settings.RESCORE_ORDER_MODEL = "linear"  # another ranking can cite another article
    assert answer_cache.key(question, "public") != base
    settings.RESCORE_ORDER_MODEL = "lambdarank"
    settings.ANSWER_CONFIDENCE_MODEL = "formula"
    assert answer_cache.key(question, "public") != base
