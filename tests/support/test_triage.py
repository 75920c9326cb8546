"""Triage: intent, urgency, sentiment, entities and priority on every customer message;
shown in the queue (sorted, filtered), correctable by agents (and learnt from), in the API;
SLA clocks per priority."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from support import (
    selectors,
    services,
    smalltalk,
    thread_links,
    thread_triage,
    threads,
    triage,
    triage_store,
)
from support.models import Conversation, Interaction, Priority, TriageIntent
from tests.support.conftest import sse_events

SEED = Path(__file__).resolve().parents[2] / "bench" / "data" / "triage_messages.jsonl"


@pytest.fixture(scope="module")
def classifier() -> triage.IntentClassifier:
    rows = [json.loads(line) for line in SEED.read_text().splitlines()]
    return triage.train_default(rows)


@pytest.fixture(autouse=True)
def _fresh_store():
    # Each test's database differs (corrections, taxonomy): check it again.
    triage_store.invalidate()
    yield
    triage_store.invalidate()


# --- The classifier and the rules (no database) --------------------------------------------


def test_labelled_set_is_big_and_multilingual():
    rows = [json.loads(line) for line in SEED.read_text().splitlines()]
    assert len(rows) >= 300
    assert {r["language"] for r in rows} >= {"en", "es", "de", "fr", "zh"}
    assert set(triage.DEFAULT_INTENTS) == {r["intent"] for r in rows}


@pytest.mark.parametrize(
    "text, intent",
    [
        ("I want my money back for this soundbar", "returns_refunds"),
        ("¿Dónde está mi pedido? No ha llegado", "order_delivery"),
        ("Ich habe mein Passwort vergessen und komme nicht ins Konto", "account_billing"),
        ("Bonjour !", "greeting"),
        ("put me through to a human", "human_request"),
        ("The TV has no sound since yesterday", "troubleshooting"),
    ],
)
def test_intent_of_unseen_messages(classifier, text, intent):
    seed_texts = {json.loads(line)["text"] for line in SEED.read_text().splitlines()}
    assert text not in seed_texts  # really unseen
    assert triage.triage(text, classifier=classifier).intent == intent


def test_safety_comes_from_the_rules_and_is_urgent(classifier):
    hazard = triage.triage("my kid put the remote battery in his mouth", classifier=classifier)
    assert hazard.intent == "safety" and hazard.priority == triage.URGENT
    assert hazard.urgency == "urgent" and hazard.safety["category"] == "swallowed_battery"
    lookalike = triage.triage("How do I prevent burn-in on my OLED TV?", classifier=classifier)
    assert lookalike.intent != "safety" and lookalike.priority > triage.URGENT


def test_anger_and_repeated_contact_raise_urgency_but_never_to_urgent(classifier):
    calm = triage.triage("The TV has no sound", classifier=classifier)
    angry = triage.triage(
        "This is RIDICULOUS, third time I write and STILL no sound!!", classifier=classifier
    )
    assert calm.sentiment == "neutral" and calm.priority == triage.NORMAL
    assert angry.sentiment == "negative" and angry.urgency == "high"
    assert angry.priority == triage.HIGH
    again = triage.triage("The TV has no sound", classifier=classifier, previous_contacts=3)
    assert again.urgency == "high" and any("repeated contact" in s for s in again.signals)


def test_priority_from_intent_and_urgency_keeps_urgent_for_safety():
    intents = dict(triage.DEFAULT_INTENTS)
    assert triage.priority_for(intent="safety", urgency="normal", intents=intents) == 0
    assert triage.priority_for(intent="how_to", urgency="low", intents=intents) == triage.LOW
    assert triage.priority_for(intent="how_to", urgency="high", intents=intents) == triage.NORMAL
    # Even an angry complaint, or an editor's intent with base priority 0, is below safety.
    assert triage.priority_for(intent="complaint", urgency="high", intents=intents) == 1
    intents["recall"] = ("Product recall", 0)
    assert triage.priority_for(intent="recall", urgency="normal", intents=intents) == 1


def test_entities_with_confidences():
    found = triage.extract_entities(
        "My QN65Q80TAFXZA on firmware 1303.5 shows error code NW-2-5; order #88123456; "
        "phone on Android 10"
    )
    got = {(e.type, e.value) for e in found}
    assert got == {
        ("model", "QN65Q80TAFXZA"),
        ("firmware_version", "1303.5"),
        ("error_code", "NW-2-5"),
        ("order_number", "88123456"),
        ("os_version", "Android 10"),
    }
    assert all(0 < e.confidence <= 1 for e in found)
    assert triage.extract_entities("I paid 499 dollars in 2021") == []


@pytest.mark.parametrize("text", ["", "\x00\x00", "🙂" * 500, "a" * 20000, "\u202e\u200b"])
def test_odd_input_is_triaged_without_error(classifier, text):
    result = triage.triage(text, classifier=classifier)
    assert result.intent in triage.DEFAULT_INTENTS
    assert result.confidence_band in {"high", "medium", "low"}
    json.dumps(result.to_dict())  # storable as is


def test_smalltalk_is_the_one_greeting_detector_in_several_languages(classifier):
    for text in ["hi", "¡Hola!", "Bonjour", "HALLO", "buenos días", "你好"]:
        assert smalltalk.classify(text) == smalltalk.GREETING, text
        assert smalltalk.opens_with_greeting(triage.safety.normalize(text)), text
    for text in ["thanks!", "Danke schön", "merci beaucoup", "谢谢"]:
        assert smalltalk.classify(text) == smalltalk.THANKS, text
    # A question that opens with "hi" is a question for the help center, not small talk.
    assert smalltalk.classify("hi, how do I reset the remote?") == ""
    assert triage.triage("hello there", classifier=classifier).intent == "greeting"


def test_sla_targets_from_the_environment(monkeypatch):
    from kb_platform.env import env_minutes_by_priority

    default = {"urgent": 15, "high": 60, "normal": 240, "low": 1440}
    monkeypatch.setenv("X_SLA", "urgent=5, low=2880")
    assert env_minutes_by_priority("X_SLA", default) == {**default, "urgent": 5, "low": 2880}
    for bad in ["urgent", "critical=5", "urgent=soon", "urgent=0"]:
        monkeypatch.setenv("X_SLA", bad)
        with pytest.raises(ImproperlyConfigured, match="X_SLA"):
            env_minutes_by_priority("X_SLA", default)


# --- Stored on every customer message, whatever the channel --------------------------------


@pytest.mark.django_db
def test_contact_form_message_is_triaged_and_sets_the_conversation():
    conversation = services.conversation_create(
        subject="TV", body="My QE55Q60T shows error code 107 after the update"
    )
    message = conversation.messages.get(role="customer")
    assert message.intent == "troubleshooting" and message.priority == Priority.NORMAL
    assert message.triage["confidence_band"] in {"high", "medium", "low"}
    assert {(e["type"], e["value"]) for e in message.triage["entities"]} == {
        ("model", "QE55Q60T"),
        ("error_code", "107"),
    }
    assert (conversation.intent, conversation.language) == ("troubleshooting", "en")
    assert conversation.priority == Priority.NORMAL


@pytest.mark.django_db
def test_portal_widget_and_api_questions_are_triaged(client, kb, customer):
    client.post("/ask/", {"q": "¿Dónde está mi pedido 4455-88123?"})
    portal = Interaction.objects.get(channel="portal")
    assert (portal.intent, portal.language) == ("order_delivery", "es")
    asked = portal.conversation.messages.get(role="customer")
    assert asked.intent == "order_delivery" and asked.triage["entities"][0]["value"] == "4455-88123"

    sse_events(Client().post("/widget/ask/stream/", {"q": "I want a refund for my soundbar"}))
    widget = Interaction.objects.get(channel="widget")
    assert widget.intent == "returns_refunds"
    assert widget.conversation.messages.get(role="customer").intent == "returns_refunds"

    api = APIClient()
    api.force_authenticate(customer)
    response = api.post("/api/ask", {"question": "Ich habe mein Passwort vergessen"}, format="json")
    assert response.status_code == 200
    via_api = Interaction.objects.get(channel="api")
    assert (via_api.intent, via_api.language) == ("account_billing", "de")


@pytest.mark.django_db
def test_agent_drafts_are_not_customer_messages_and_are_not_triaged(kb, agent):
    conversation = services.conversation_create(subject="S", body="No sound from my TV")
    services.interaction_record(
        answer=services.Answer(question="No sound from my TV", text="Check mute."),
        channel="agent",
        user=agent,
        session_key="",
        conversation=conversation,
    )
    draft = Interaction.objects.get(channel="agent")
    assert draft.intent == "" and draft.language == ""


@pytest.mark.django_db
def test_thread_reply_and_emailed_reply_are_triaged():
    from support.inbound import inbound_email_receive

    conversation = services.conversation_create(
        subject="Order", body="Where is my order?", email="carla@example.com", name="Carla"
    )
    threads.customer_reply(conversation=conversation, body="This is RIDICULOUS!! Third time!")
    conversation.refresh_from_db()
    reply = conversation.messages.filter(role="customer").last()
    assert reply.sentiment == "negative" and reply.urgency == "high"
    assert conversation.priority == Priority.HIGH  # the angriest message sets it
    link = thread_links.thread_link_url(conversation)
    raw = (
        f"From: Carla <carla@example.com>\r\nSubject: Re: [Request #{conversation.pk}]\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n\r\n"
        f"I smell burning plastic from the TV now\n\n> Reply here: {link}\n"
    ).encode()
    message = inbound_email_receive(raw=raw)
    assert message.intent == "safety" and message.priority == Priority.URGENT
    conversation.refresh_from_db()
    assert conversation.priority == Priority.URGENT and conversation.urgent
    note = conversation.messages.filter(role="system", internal=True).last()
    assert note is not None and "hazard" in note.body


@pytest.mark.django_db
def test_a_later_thanks_never_lowers_an_urgent_conversation():
    conversation = services.conversation_create(subject="S", body="smoke is coming out of my TV")
    assert conversation.handoff_reason == "safety" and conversation.urgent
    services.message_add(conversation=conversation, role="customer", body="thanks")
    conversation.refresh_from_db()
    assert conversation.priority == Priority.URGENT and conversation.intent == "safety"


# --- The queue ------------------------------------------------------------------------------


@pytest.mark.django_db
def test_queue_puts_a_safety_message_on_top_without_manual_action(client, kb, agent):
    # Older, angrier and more numerous conversations first; the hazard comes in last.
    services.conversation_create(subject="Angry", body="Third time writing, this is useless!!")
    services.conversation_create(subject="How", body="How do I change the picture mode?")
    services.conversation_create(subject="Refund", body="I want to return my soundbar")
    sse_events(client.post("/ask/stream/", {"q": "There is smoke coming out of my TV"}))
    hazard = Conversation.objects.get(handoff_reason="safety")
    assert hazard.priority == Priority.URGENT and hazard.status == "waiting_agent"
    queue = list(selectors.conversation_queue(user=agent))
    assert [c.subject for c in queue][1:] == ["Angry", "Refund", "How"]
    assert queue[0] == hazard
    staff = Client()
    staff.force_login(agent)
    html = staff.get("/agent/").content.decode()
    assert html.index(hazard.subject[:40]) < html.index(">Angry</a>") < html.index(">How</a>")


@pytest.mark.django_db
def test_queue_filters_by_intent_priority_and_sla(client, agent, settings):
    settings.KB_SLA_FIRST_RESPONSE_MINUTES = {"urgent": 15, "high": 60, "normal": 240, "low": 600}
    how = services.conversation_create(subject="How", body="How do I change the picture mode?")
    angry = services.conversation_create(subject="Angry", body="Third time, this is useless!!")
    assert how.priority == Priority.LOW and angry.priority == Priority.HIGH
    assert how.first_response_due_at - how.handed_off_at == dt.timedelta(minutes=600)
    assert angry.first_response_due_at - angry.handed_off_at == dt.timedelta(minutes=60)
    client.force_login(agent)

    def subjects(query: str) -> list[str]:
        html = client.get("/agent/?" + query).content.decode()
        return [s for s in ("How", "Angry") if f">{s}</a>" in html]

    assert subjects("intent=how_to") == ["How"]
    assert subjects("priority=1") == ["Angry"]
    assert subjects("sla=breached") == []
    assert subjects("intent=bogus&priority=x&sla=%00&sort=nope") == ["How", "Angry"]
    # Two hours later the high-priority one has missed its first-response target.
    later = timezone.now() + dt.timedelta(hours=2)
    breached = selectors.conversation_queue(user=agent, sla=selectors.SLA_BREACHED, now=later)
    assert list(breached) == [angry]
    state = selectors.conversation_sla(conversation=angry, now=later)
    assert state.breached and state.first_response == "overdue"
    # A reply within the target meets it.
    threads.agent_reply(conversation=how, body="Open Settings, Picture.", author=agent)
    how.refresh_from_db()
    assert selectors.conversation_sla(conversation=how, now=later).first_response == "met"


@pytest.mark.django_db
def test_sla_clock_restarts_when_a_resolved_request_reopens(agent):
    conversation = services.conversation_create(subject="S", body="No sound from my TV")
    threads.agent_reply(conversation=conversation, body="Try this.", author=agent, resolve=True)
    conversation.refresh_from_db()
    assert conversation.first_response_at is not None
    threads.customer_reply(conversation=conversation, body="Still no sound.")
    conversation.refresh_from_db()
    assert conversation.status == "reopened" and conversation.first_response_at is None
    assert conversation.first_response_due_at > timezone.now()


# --- Corrections ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_agent_correction_is_stored_applied_and_changes_later_predictions(agent):
    text = "the zorblax widget quibbles when I frobnicate it"
    before = triage_store.triage_text(text).intent
    assert before != "returns_refunds"
    conversation = services.conversation_create(subject="X", body=text)
    message = conversation.messages.get(role="customer")
    thread_triage.triage_correct(message=message, intent="returns_refunds", user=agent)
    message.refresh_from_db()
    conversation.refresh_from_db()
    assert message.intent == "returns_refunds" and message.triage["corrected"] is True
    assert message.triage["predicted_intent"] == before
    assert conversation.intent == "returns_refunds"
    assert message.corrections.get().previous_intent == before
    # The correction is training data now: the same and a similar message are predicted so.
    assert triage_store.triage_text(text).intent == "returns_refunds"
    assert triage_store.triage_text("my zorblax widget quibbles again").intent == (
        "returns_refunds"
    )
    with pytest.raises(ValidationError, match="Unknown intent"):
        thread_triage.triage_correct(message=message, intent="nonsense", user=agent)


@pytest.mark.django_db
def test_correcting_a_false_hazard_lowers_the_priority(agent):
    conversation = services.conversation_create(subject="S", body="smoke is coming out of my TV")
    assert conversation.priority == Priority.URGENT and conversation.urgent
    message = conversation.messages.get(role="customer")
    thread_triage.triage_correct(message=message, intent="troubleshooting", user=agent)
    conversation.refresh_from_db()
    assert not conversation.urgent and conversation.priority == Priority.HIGH
    thread_triage.triage_correct(message=message, intent="safety", user=agent)
    conversation.refresh_from_db()
    assert conversation.urgent and conversation.priority == Priority.URGENT


@pytest.mark.django_db
def test_editors_extend_the_taxonomy_with_examples():
    TriageIntent.objects.create(
        name="warranty",
        label="Warranty",
        priority=Priority.NORMAL,
        examples="Is my TV still under warranty?\nHow long is the warranty?\n"
        "warranty claim for my soundbar\nDoes the warranty cover the panel?",
    )
    triage_store.invalidate()
    assert triage_store.triage_text("is the warranty still valid for my TV?").intent == "warranty"
    assert "warranty" in triage_store.intents()
    TriageIntent.objects.filter(name="warranty").update(enabled=False)
    triage_store.invalidate()
    assert "warranty" not in triage_store.intents()


@pytest.mark.django_db
def test_agent_sees_triage_and_corrects_it_on_the_conversation_page(client, agent):
    conversation = services.conversation_create(
        subject="TV", body="My QE55Q60T shows error code 107"
    )
    message = conversation.messages.get(role="customer")
    client.force_login(agent)
    html = client.get(f"/agent/conversations/{conversation.pk}/").content.decode()
    assert "model: QE55Q60T" in html and "error_code: 107" in html
    assert "Correct the intent" in html and "Priority" in html
    url = f"/agent/conversations/{conversation.pk}/messages/{message.pk}/triage/"
    bad = client.post(url, {"intent": "<script>"})
    assert bad.status_code == 400 and "Unknown intent" in bad.content.decode()
    assert "<script>" not in bad.content.decode()
    response = client.post(url, {"intent": "complaint"})
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.intent == "complaint" and message.corrections.count() == 1
    other = services.conversation_create(subject="Other", body="hello?")
    assert (
        client.post(
            f"/agent/conversations/{other.pk}/messages/{message.pk}/triage/", {"intent": "how_to"}
        ).status_code
        == 404
    )


@pytest.mark.django_db
def test_customers_cannot_correct_triage(client, customer):
    conversation = services.conversation_create(subject="S", body="hi", customer=customer)
    message = conversation.messages.get(role="customer")
    client.force_login(customer)
    url = f"/agent/conversations/{conversation.pk}/messages/{message.pk}/triage/"
    assert client.post(url, {"intent": "safety"}).status_code == 403
    message.refresh_from_db()
    assert message.intent != "safety"


# --- API ------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_api_exposes_triage_to_agents_only_and_takes_corrections(agent, customer):
    conversation = services.conversation_create(
        subject="Q", body="Where is my order 7731-2290?", customer=customer
    )
    staff = APIClient()
    staff.force_authenticate(agent)
    body = staff.get(f"/api/conversations/{conversation.pk}").json()
    assert body["intent"] == "order_delivery" and body["priority"] == Priority.NORMAL
    assert body["sla_breached"] is False and body["first_response_due_at"]
    triaged = body["messages"][0]["triage"]
    assert triaged["entities"][0] == {
        "type": "order_number",
        "value": "7731-2290",
        "start": 18,
        "end": 27,
        "confidence": 0.9,
    }
    listed = staff.get("/api/conversations?intent=order_delivery&priority=2").json()
    assert [c["id"] for c in listed["results"]] == [conversation.pk]
    assert staff.get("/api/conversations?priority=9").status_code == 400

    own = APIClient()
    own.force_authenticate(customer)
    mine = own.get(f"/api/conversations/{conversation.pk}").json()
    assert "priority" not in mine and "intent" not in mine
    assert "triage" not in mine["messages"][0] and "sentiment" not in mine["messages"][0]
    # The control: the same probe on the staff copy does see the fields.
    assert "sentiment" in body["messages"][0]

    message_id = body["messages"][0]["id"]
    url = f"/api/conversations/{conversation.pk}/messages/{message_id}/triage"
    assert own.post(url, {"intent": "complaint"}, format="json").status_code == 403
    wrong = staff.post(url, {"intent": "nonsense"}, format="json")
    assert wrong.status_code == 400 and "Unknown intent" in wrong.json()["error"]["message"]
    assert staff.post(url, {"intent": ["x"]}, format="json").status_code == 400
    missing = f"/api/conversations/{conversation.pk}/messages/999999/triage"
    assert staff.post(missing, {"intent": "complaint"}, format="json").status_code == 404
    fixed = staff.post(url, {"intent": "complaint"}, format="json")
    assert fixed.status_code == 200 and fixed.json()["intent"] == "complaint"
    assert fixed.json()["triage"]["corrected"] is True


@pytest.mark.django_db
def test_openapi_schema_documents_triage(client):
    schema = client.get("/api/schema/?format=json").json()
    components = schema["components"]["schemas"]
    assert {"intent", "confidence_band", "entities", "sentiment"} <= set(
        components["Triage"]["properties"]
    )
    assert "/api/conversations/{id}/messages/{message_pk}/triage" in schema["paths"]


@pytest.mark.django_db
def test_among_equally_pressing_messages_the_opening_question_sets_the_intent():
    conversation = services.conversation_create(subject="O", body="Where is my order 4411-2299?")
    threads.customer_reply(conversation=conversation, body="Also the TV has no sound")
    conversation.refresh_from_db()
    first, second = conversation.messages.filter(role="customer")
    assert (first.intent, second.intent) == ("order_delivery", "troubleshooting")
    assert first.priority == second.priority == conversation.priority == Priority.NORMAL
    assert conversation.intent == "order_delivery"


@pytest.mark.django_db
def test_an_anonymous_api_hazard_is_logged_as_a_safety_handoff(kb):
    from insights import resolution

    response = APIClient().post(
        "/api/ask", {"question": "There is smoke coming out of my TV"}, format="json"
    )
    assert response.status_code == 200 and response.json()["abstained"]
    logged = Interaction.objects.get(channel="api")
    assert (logged.handoff_reason, logged.intent) == ("safety", "safety")
    assert logged.conversation_id is None and not logged.escalated  # unthreaded
    start, end = logged.created_at - dt.timedelta(hours=1), logged.created_at + dt.timedelta(1)
    (outcome,) = resolution.question_outcomes(start=start, end=end)
    assert (outcome.outcome, outcome.why, outcome.no_result) == ("escalated", "safety", False)
