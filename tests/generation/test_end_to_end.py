"""Real retrieval (fake embedder, SQLite) -> answer, and the `ask` / `llm_health` commands."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from generation.services import answer_question, answer_question_stream
from generation.types import Turn
from retrieval.services import index_rebuild
from tests.factories import make_article

PAIRING = (
    "## Pairing\n\nWhen you turn on the TV for the first time, the remote pairs automatically. "
    "If the remote does not pair, point it at the sensor and hold Return and Play for three "
    "seconds.\n\n## Batteries\n\nWhen the battery is low, charge the remote over USB-C."
)
WIFI = (
    "Open Settings, choose General and then Network. Select your wireless network and enter "
    "the password. The TV remembers the network for the next start."
)
SECRET = (
    "Agents only: the service menu opens with Mute, 1, 8, 2, Power. "
    "Never share the service menu code with customers."
)


@pytest.fixture
def kb(admin_user):
    make_article(author=admin_user, title="Pair the remote with the TV", body=PAIRING)
    make_article(author=admin_user, title="Connect the TV to Wi-Fi", body=WIFI)
    make_article(author=admin_user, title="Service menu code", body=SECRET, visibility="internal")
    index_rebuild()


@pytest.mark.django_db
def test_answers_from_the_published_kb(kb, settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.0
    answer = answer_question("How do I pair the remote with the TV?", audience="public")
    assert not answer.abstained
    assert "pair" in answer.text.lower()
    assert answer.citations[0].title == "Pair the remote with the TV"
    assert answer.hits[0]["title"] == "Pair the remote with the TV"


@pytest.mark.django_db
def test_internal_article_never_reaches_a_portal_answer(kb, settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.0
    settings.ANSWER_MIN_CONFIDENCE_INTERNAL = 0.0
    question = "What is the service menu code?"
    public = answer_question(question, audience="public")
    assert "Mute, 1, 8, 2" not in public.text
    assert all(h["title"] != "Service menu code" for h in public.hits)
    internal = answer_question(question, audience="internal")
    assert internal.citations and internal.citations[0].title == "Service menu code"


@pytest.mark.django_db
def test_follow_up_uses_the_conversation(kb, settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.0
    history = [Turn("user", "How do I pair the remote?"), Turn("assistant", "Point it ... [1].")]
    events = list(
        answer_question_stream("And what if it doesn't work?", audience="public", history=history)
    )
    assert events[0].data["query"].startswith("How do I pair the remote?")
    assert events[0].data["hits"][0]["title"] == "Pair the remote with the TV"


@pytest.mark.django_db
def test_broken_retrieval_abstains_instead_of_crashing(kb, settings):
    settings.EMBEDDING_BACKEND = "no-such-backend"  # retrieval raises ImproperlyConfigured
    answer = answer_question("How do I pair the remote?", audience="public")
    assert answer.abstained and answer.fallback_reason == "retrieval_error"
    assert answer.abstain_reason == "retrieval_error"


@pytest.mark.django_db
def test_empty_kb_abstains(settings):
    answer = answer_question("How do I pair the remote?", audience="public")
    assert answer.abstained and answer.abstain_reason == "no_hits"


@pytest.mark.django_db
def test_ask_command_prints_answer_citations_and_grounding(kb, settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.0
    out = StringIO()
    call_command("ask", "How do I pair the remote with the TV?", stdout=out)
    text = out.getvalue()
    assert "[1]" in text and "Pair the remote with the TV" in text
    assert "grounding" in text and "backend extractive" in text
    out = StringIO()
    call_command("ask", "How do I connect to wireless?", "--stream", "--json", stdout=out)
    payload = json.loads(out.getvalue()[out.getvalue().index("{") :])
    assert payload["backend"] == "extractive"


@pytest.mark.django_db
def test_ask_command_rejects_an_empty_question():
    with pytest.raises(CommandError, match="empty"):
        call_command("ask", "   ")


def test_llm_health_command_fails_clearly_when_server_is_down(settings):
    settings.LLM_BASE_URL = "http://127.0.0.1:9/v1"
    settings.LLM_MODEL = "m"
    settings.LLM_CONNECT_TIMEOUT_SECONDS = 0.5
    with pytest.raises(CommandError, match="LLM not usable"):
        call_command("llm_health", stdout=StringIO())


@pytest.mark.integration
@pytest.mark.django_db
def test_real_model_answers_and_abstains(admin_user, settings):
    # The real model: the fitted confidence model applies (generation.confidence.applies_to).
    settings.EMBEDDING_BACKEND = "torch"
    make_article(author=admin_user, title="Pair the remote with the TV", body=PAIRING)
    make_article(author=admin_user, title="Connect the TV to Wi-Fi", body=WIFI)
    index_rebuild()
    answer = answer_question("How do I pair my remote control with the TV?", audience="public")
    assert answer.hits[0]["title"] == "Pair the remote with the TV"
    assert not answer.abstained, answer.confidence
    assert answer.citations[0].title == "Pair the remote with the TV"
    wifi = answer_question("How can I connect the TV to my wireless network?", audience="public")
    assert not wifi.abstained and wifi.citations[0].title == "Connect the TV to Wi-Fi"
    off_topic = answer_question("How do I bake sourdough bread at home?", audience="public")
    assert off_topic.abstained
    # In the KB's own domain but not in it: the fitted default must not answer from the
    # nearest of two articles (it learnt small KBs' scores: bench/fit_answer_models.py).
    near_miss = answer_question("How do I update the TV's software?", audience="public")
    assert near_miss.abstained, (near_miss.confidence, near_miss.answer_text)
