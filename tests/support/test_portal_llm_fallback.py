"""The portal stream survives an LLM that breaks mid-answer: the client is told to reset."""

from __future__ import annotations

import pytest

from generation.backends import circuit
from support.models import Interaction
from tests.generation.fake_vllm import FakeVLLM
from tests.support.conftest import sse_events


@pytest.fixture
def broken_llm(settings):
    server = FakeVLLM(model="fake-model").start()
    server.default = "disconnect"
    circuit.reset_all()
    settings.LLM_BASE_URL = server.base_url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_TIMEOUT_SECONDS = 3.0
    yield server
    server.stop()
    circuit.reset_all()


def test_mid_stream_disconnect_resets_the_shown_text_and_falls_back(client, kb, broken_llm):
    response = client.post("/ask/stream/", {"q": "How do I reset my password?"})
    events = sse_events(response)
    tokens = [data for name, data in events if name == "token"]
    assert broken_llm.chat_requests, "the LLM was never called"
    reset_at = [i for i, data in enumerate(tokens) if data.get("reset")]
    assert reset_at, "the client was never told to clear the partial LLM text"
    # What the client shows after the reset is exactly the final (extractive) answer.
    shown = "".join(d["text"] for d in tokens[reset_at[-1] :])
    done = events[-1][1]["answer"]
    # How the answer was made is logged for staff, not shown to customers.
    assert "backend" not in done and "fallback_reason" not in done
    assert shown.strip()[:40] == done["text"].strip()[:40]
    interaction = Interaction.objects.get(pk=events[-1][1]["interaction_id"])
    assert interaction.backend == "extractive" and interaction.fallback_reason


def test_a_client_that_hangs_up_mid_answer_still_leaves_its_question(kb, rf):
    from django.contrib.auth.models import AnonymousUser

    from support import services, sse

    stream = sse.ask_event_stream(
        services.ask_answer_stream(
            question="How do I reset my password?",
            audience="public",
            channel="portal",
            user=AnonymousUser(),
            session_key="sess-gone",
        ),
        public_filter=True,
    )
    assert next(stream).startswith("event: meta")
    stream.close()  # what Django does when the client disconnects
    interaction = Interaction.objects.get(session_key="sess-gone")
    assert interaction.question == "How do I reset my password?"
    assert interaction.fallback_reason == "client_disconnected"
    assert interaction.answer_text == ""


def test_a_finished_stream_is_recorded_once(kb, rf):
    from django.contrib.auth.models import AnonymousUser

    from support import services, sse

    stream = sse.ask_event_stream(
        services.ask_answer_stream(
            question="How do I reset my password?",
            audience="public",
            channel="portal",
            user=AnonymousUser(),
            session_key="sess-done",
        ),
        public_filter=True,
    )
    events = list(stream)
    stream.close()
    assert events[-1].startswith("event: done")
    assert Interaction.objects.filter(session_key="sess-done").count() == 1
