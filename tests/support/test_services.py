"""Support services: what gets persisted, and the rate limiter on a real Redis cache."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import RequestFactory

from generation.types import Answer, Citation
from support import ratelimit, services
from support.models import Interaction

pytestmark = pytest.mark.django_db


def test_interaction_record_persists_answer_metrics_hits_and_citations(kb, customer):
    answer = Answer(
        question="How do I reset my password?",
        text="Press Reset [1].",
        citations=[
            Citation(
                number=1,
                article_id=kb.password.pk,
                chunk_id=7,
                title=kb.password.title,
                slug=kb.password.slug,
                heading_path="Reset your password",
                support_score=0.8,
            )
        ],
        grounding_score=0.8,
        confidence=0.7,
        backend="vllm",
        model="qwen",
        prompt_version="p3",
        latency_ms=120.5,
        first_token_ms=30.25,
        prompt_tokens=900,
        completion_tokens=42,
        fallback_reason="",
        hits=[{"article_id": kb.password.pk, "score": 0.9}],
    )
    interaction = services.interaction_record(
        answer=answer, channel="api", user=customer, session_key="abc"
    )
    interaction = Interaction.objects.get(pk=interaction.pk)
    assert interaction.citations[0]["chunk_id"] == 7
    assert interaction.citations[0]["heading_path"] == "Reset your password"
    assert interaction.hits == [{"article_id": kb.password.pk, "score": 0.9}]
    assert list(interaction.cited_articles.all()) == [kb.password]
    assert (interaction.backend, interaction.model, interaction.prompt_version) == (
        "vllm",
        "qwen",
        "p3",
    )
    assert interaction.latency_ms == 120.5 and interaction.first_token_ms == 30.25
    assert (interaction.prompt_tokens, interaction.completion_tokens) == (900, 42)
    assert interaction.confidence == 0.7 and interaction.grounding_score == 0.8
    assert interaction.user == customer and interaction.session_key == "abc"


def test_escalating_twice_returns_the_same_conversation(kb):
    interaction = Interaction.objects.create(question="q", answer_text="a")
    first = services.conversation_escalate(interaction=interaction, name="A", email="a@x.io")
    again = services.conversation_escalate(interaction=interaction, name="A", email="a@x.io")
    # question, the bot's answer, the internal handoff summary: once
    assert first == again and first.messages.count() == 3
    assert first.status == "waiting_agent" and first.handoff_reason == "customer_asked"


def test_question_validate():
    assert services.question_validate("  hi  ") == "hi"
    for bad in ("", "   ", None, 5, "x" * 100_000):
        with pytest.raises(ValidationError):
            services.question_validate(bad)


@pytest.mark.integration
def test_rate_limit_counts_in_redis(settings, redis_url):
    import uuid

    # A fresh key prefix instead of cache.clear(): that would FLUSHDB the shared test Redis.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"rl-test-{uuid.uuid4().hex}",
        }
    }
    settings.RATE_LIMIT_ASK_PER_MINUTE = 3
    request = RequestFactory().post("/ask/", REMOTE_ADDR="192.0.2.7")
    results = [ratelimit.check(request, scope="ask") for _ in range(4)]
    assert results[:3] == [None, None, None]
    assert results[3] is not None and results[3].limit == 3
    assert 1 <= results[3].retry_after <= 61
    other = RequestFactory().post("/ask/", REMOTE_ADDR="192.0.2.8")
    assert ratelimit.check(other, scope="ask") is None
