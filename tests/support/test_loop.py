"""The support loop: one thread per customer, handoffs that reach a person, replies that arrive.

Mail goes through the outbox to a real SMTP server (aiosmtpd on loopback); the integration
test sends it from a real Celery worker.
"""

from __future__ import annotations

import re
import time

import pytest
from django.test import Client

from generation import services as generation
from generation.types import Answer
from support import outbox, services, thread_links, threads
from support.models import Conversation, Feedback, Interaction, Message, OutgoingEmail
from tests.support.conftest import mail_text, sse_events

PASSWORD_Q = "How do I reset my password?"


@pytest.fixture
def spy_history(monkeypatch):
    """Record the history every answer is generated with (the real pipeline still runs)."""
    seen: list = []
    real_stream, real_answer = generation.answer_question_stream, generation.answer_question

    def stream(question, *, audience, history=(), **kw):
        seen.append(list(history))
        return real_stream(question, audience=audience, history=history, **kw)

    def answer(question, *, audience, history=(), **kw):
        seen.append(list(history))
        return real_answer(question, audience=audience, history=history, **kw)

    monkeypatch.setattr(generation, "answer_question_stream", stream)
    monkeypatch.setattr(generation, "answer_question", answer)
    return seen


def test_streamed_api_ask_joins_the_conversation_with_its_history(
    client, kb, customer, spy_history
):
    # The bug of issue 12: ?stream=1 recorded the answer with no conversation and no history.
    client.force_login(customer)
    created = client.post(
        "/api/conversations",
        {"subject": "Password", "body": "I cannot log in."},
        content_type="application/json",
    ).json()
    response = client.post(
        "/api/ask?stream=1",
        {"question": PASSWORD_Q, "conversation_id": created["id"]},
        content_type="application/json",
    )
    events = sse_events(response)
    done = events[-1][1]
    assert events[-1][0] == "done" and done["conversation_id"] == created["id"]
    interaction = Interaction.objects.get(pk=done["interaction_id"])
    assert interaction.conversation_id == created["id"]
    assert [t.content for t in spy_history[-1]] == ["I cannot log in."]
    # The JSON path does the same: same service.
    body = client.post(
        "/api/ask",
        {"question": "and if the email does not arrive?", "conversation_id": created["id"]},
        content_type="application/json",
    ).json()
    assert body["conversation_id"] == created["id"]
    assert [t.content for t in spy_history[-1]][:2] == ["I cannot log in.", PASSWORD_Q]


def test_portal_follow_up_stays_in_one_thread_with_history(client, kb, spy_history):
    first = sse_events(client.post("/ask/stream/", {"q": PASSWORD_Q}))[-1][1]
    second = sse_events(client.post("/ask/stream/", {"q": "and if the email never arrives?"}))
    done = second[-1][1]
    assert done["conversation_id"] == first["conversation_id"]
    conversation = Conversation.objects.get(pk=done["conversation_id"])
    assert conversation.status == "bot"
    roles = list(conversation.messages.values_list("role", flat=True))
    assert roles == ["customer", "bot", "customer", "bot"]
    history = spy_history[-1]
    assert history[0].content == PASSWORD_Q and history[1].role == "assistant"
    # Another browser never joins this thread.
    other = sse_events(Client().post("/ask/stream/", {"q": PASSWORD_Q}))[-1][1]
    assert other["conversation_id"] != first["conversation_id"]


def test_widget_resumes_its_thread_with_the_signed_token(client, kb):
    first = sse_events(client.post("/widget/ask/stream/", {"q": PASSWORD_Q}))[-1][1]
    assert first["thread"] and first["thread_url"].startswith("/t/")
    again = sse_events(
        Client().post("/widget/ask/stream/", {"q": "and then?", "thread": first["thread"]})
    )[-1][1]
    assert again["conversation_id"] == first["conversation_id"]
    forged = sse_events(
        Client().post("/widget/ask/stream/", {"q": "and then?", "thread": first["thread"] + "x"})
    )[-1][1]
    assert forged["conversation_id"] != first["conversation_id"]


def test_greeting_and_talk_to_a_human_are_recognised(client, kb):
    hi = sse_events(client.post("/ask/stream/", {"q": "hi"}))[-1][1]
    assert hi["kind"] == "greeting" and not hi["answer"]["abstained"]
    assert "couldn't find" not in hi["answer"]["text"]
    human = sse_events(client.post("/ask/stream/", {"q": "I want to talk to a human"}))[-1][1]
    assert human["kind"] == "human" and human["handed_off"]
    conversation = Conversation.objects.get(pk=human["conversation_id"])
    assert conversation.status == "waiting_agent"
    assert conversation.handoff_reason == "customer_asked"
    assert "Question: hi" in conversation.handoff_summary


def test_safety_answer_goes_straight_to_a_person_flagged_urgent(client, kb, monkeypatch):
    def safety(question, *, audience, history=(), **kw):
        answer = Answer(question=question, text="Unplug it and call us.", abstained=True)
        answer.handoff_reason = "safety"  # generation.safety sets this field on Answer
        return answer

    monkeypatch.setattr(generation, "answer_question", safety)
    client.post("/ask/", {"q": "My TV is smoking"})
    conversation = Conversation.objects.get()
    assert conversation.status == "waiting_agent" and conversation.urgent
    assert conversation.handoff_reason == "safety"
    # The queue puts urgent first.
    from support.selectors import conversation_queue

    other = services.conversation_create(subject="Older", body="hello?")
    assert list(conversation_queue(user=None))[:2] == [conversation, other]


def test_state_machine_refuses_illegal_moves(kb):
    conversation = services.conversation_create(subject="s", body="b")
    with pytest.raises(Exception, match="cannot become"):
        threads.conversation_transition(conversation=conversation, to="reopened")
    with pytest.raises(Exception, match="Unknown handoff reason"):
        threads.conversation_handoff(conversation=conversation, reason="bored")


def _send_queued() -> int:
    """What the worker (or beat's outbox_flush) does after commit; tests run in a transaction."""
    from support.tasks import outbox_flush

    return outbox_flush()


def _handed_off(client) -> Conversation:
    client.post("/ask/", {"q": PASSWORD_Q})
    interaction = Interaction.objects.latest("id")
    client.post(f"/ask/{interaction.pk}/feedback/", {"helpful": "no"})
    client.post(
        f"/ask/{interaction.pk}/escalate/",
        {"name": "Carla", "email": "carla@example.com", "note": "The link expired"},
    )
    assert interaction.conversation_id is not None  # every portal answer is in a thread
    return Conversation.objects.get(pk=interaction.conversation_id)


def test_thread_link_forged_expired_revoked_and_other_customers(client, kb, customer, settings):
    conversation = _handed_off(client)
    token = thread_links.thread_link_token(conversation)
    page = Client().get(f"/t/{token}/")
    assert page.status_code == 200 and PASSWORD_Q in page.content.decode()
    forged = Client().get(f"/t/{token[:-2]}xx/")
    assert forged.status_code == 404 and "not valid" in forged.content.decode()
    assert PASSWORD_Q not in forged.content.decode()
    thread_links.thread_link_revoke(conversation=conversation)
    revoked = Client().get(f"/t/{token}/")
    assert revoked.status_code == 404 and "no longer works" in revoked.content.decode()
    fresh = thread_links.thread_link_token(conversation)
    settings.KB_THREAD_LINK_MAX_AGE_DAYS = 1
    from unittest import mock

    with mock.patch("django.core.signing.time.time", return_value=time.time() + 2 * 86400):
        expired = Client().get(f"/t/{fresh}/")
    assert expired.status_code == 404 and "expired" in expired.content.decode()
    # A signed-in customer cannot open someone else's request by number.
    c = Client()
    c.force_login(customer)
    assert c.get(f"/requests/{conversation.pk}/").status_code == 404
    assert c.post(f"/requests/{conversation.pk}/reply/", {"body": "hi"}).status_code == 404


def test_agent_reply_notes_resolve_rate_and_reopen(client, kb, agent, smtp_server):
    conversation = _handed_off(client)
    staff = Client()
    staff.force_login(agent)
    staff.post(f"/agent/conversations/{conversation.pk}/note/", {"body": "SECRET-NOTE zebracode"})
    staff.post(f"/agent/conversations/{conversation.pk}/reply/", {"body": "Here is a new link."})
    conversation.refresh_from_db()
    assert conversation.status == "agent_replied" and conversation.assigned_to == agent
    _send_queued()
    assert OutgoingEmail.objects.filter(status="sent").count() == 2  # received + reply
    reply_mail = smtp_server.messages[-1]
    assert reply_mail["X-Envelope-To"] == "carla@example.com"
    assert reply_mail["Subject"] == f"[Request #{conversation.pk}] {PASSWORD_Q}"
    text = mail_text(reply_mail)
    assert "Here is a new link." in text and "SECRET-NOTE" not in text
    link = re.search(r"http://testserver(/t/[^/\s]+/)", text).group(1)
    page = Client().get(link).content.decode()
    assert "Here is a new link." in page and "SECRET-NOTE" not in page
    assert "Handoff summary" not in page and "Question:" not in page  # internal only
    # The customer replies through the link: back to the agent.
    assert Client().post(link + "reply/", {"body": "  "}).status_code == 400
    Client().post(link + "reply/", {"body": "Thanks, that worked!"})
    conversation.refresh_from_db()
    assert conversation.status == "waiting_agent"
    staff.post(
        f"/agent/conversations/{conversation.pk}/reply/",
        {"body": "Glad to hear it.", "resolve": "1"},
    )
    conversation.refresh_from_db()
    assert conversation.status == "resolved" and conversation.resolved_by == agent
    _send_queued()
    resolved_mail = mail_text(smtp_server.messages[-1])
    assert "Glad to hear it." in resolved_mail and "rate/?score=5" in resolved_mail
    assert Client().post(link + "rate/", {"score": "9"}).status_code == 400
    Client().post(link + "rate/", {"score": "5", "comment": "Fast!"})
    conversation.refresh_from_db()
    assert (conversation.csat_score, conversation.csat_agent) == (5, agent)
    queue = staff.get("/agent/").content.decode()
    assert "Your CSAT: 5" in queue
    # Writing again after resolution reopens the thread.
    Client().post(link + "reply/", {"body": "It broke again."})
    conversation.refresh_from_db()
    assert conversation.status == "reopened"
    assert Message.objects.filter(internal=True, role="agent").count() == 1


def test_smtp_refusal_keeps_the_mail_queued_with_its_error(client, kb, agent, smtp_server):
    conversation = _handed_off(client)
    smtp_server.refuse = True
    threads.agent_reply(conversation=conversation, body="Try this.", author=agent)
    mail = OutgoingEmail.objects.filter(message__body="Try this.").get()
    with pytest.raises(outbox.OutboxDeferred):
        outbox.outbox_deliver(email_id=mail.pk)
    mail.refresh_from_db()
    assert mail.status == "queued" and "451" in mail.last_error and mail.attempts >= 1
    smtp_server.refuse = False
    mail.next_attempt_at = mail.created_at  # due now
    mail.save()
    from support.tasks import outbox_flush

    assert outbox_flush() >= 1
    mail.refresh_from_db()
    assert mail.status == "sent"
    assert "Try this." in mail_text(smtp_server.messages[-1])


def test_suggestion_never_repeats_the_answer_the_customer_rejected(client, kb, agent):
    conversation = _handed_off(client)
    rejected = Interaction.objects.get(conversation=conversation, channel="portal")
    assert Feedback.objects.filter(interaction=rejected, helpful=False).exists()
    staff = Client()
    staff.force_login(agent)
    staff.post(f"/agent/conversations/{conversation.pk}/suggest/", HTTP_HX_REQUEST="true")
    draft = Interaction.objects.get(conversation=conversation, channel="agent")
    assert not services.suggestion_repeats(text=draft.answer_text, rejected=rejected.answer_text)
    assert kb.password not in draft.cited_articles.all()


def test_each_role_lands_on_its_home(client, customer, agent, editor, admin_user):
    for user, home in [(agent, "/agent/"), (editor, "/editor/"), (admin_user, "/insights/")]:
        client.force_login(user)
        assert client.get("/accounts/home/")["Location"] == home
    client.force_login(customer)
    assert client.get("/accounts/home/")["Location"] == "/"
    assert client.get("/accounts/home/", {"next": "/requests/"})["Location"] == "/requests/"
    assert client.get("/accounts/home/", {"next": "https://evil.example/"})["Location"] == "/"


def test_widget_script_has_a_charset_and_answers_head(client):
    response = client.get("/widget.js")
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert client.head("/widget.js").status_code == 200


@pytest.mark.integration
def test_agent_reply_is_mailed_by_the_celery_worker(
    kb, agent, smtp_server, celery_worker_process, postgres_only
):
    conversation = services.conversation_create(
        subject="Router", body="My router blinks", email="dan@example.com", name="Dan"
    )
    threads.note_add(conversation=conversation, body="INTERNAL-ONLY check firmware", author=agent)
    threads.agent_reply(conversation=conversation, body="Please restart it.", author=agent)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not smtp_server.messages:
        time.sleep(0.2)
    assert smtp_server.messages, "the worker sent nothing"
    msg = smtp_server.messages[-1]
    assert msg["X-Envelope-To"] == "dan@example.com"
    assert msg["Subject"] == f"[Request #{conversation.pk}] Router"
    text = mail_text(msg)
    assert "Please restart it." in text and "INTERNAL-ONLY" not in text
    assert re.search(r"http://testserver/t/[^/\s]+/", text)
    assert OutgoingEmail.objects.get().status == "sent"


def test_an_emailed_reply_reopens_the_thread_only_with_its_link(client, kb, agent, smtp_server):
    from support.inbound import InboundRejected, inbound_email_receive

    conversation = _handed_off(client)
    threads.agent_reply(conversation=conversation, body="Try this.", author=agent, resolve=True)
    _send_queued()
    original = mail_text(smtp_server.messages[-1])
    quoted = "\n".join("> " + line for line in original.splitlines())

    def mail(sender: str, body: str, subject: str | None = None) -> bytes:
        subject = subject or f"Re: [Request #{conversation.pk}] Resolved"
        return (
            f"From: Carla <{sender}>\r\nTo: support@localhost\r\nSubject: {subject}\r\n"
            f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
        ).encode()

    with pytest.raises(InboundRejected, match="not the customer"):
        inbound_email_receive(raw=mail("mallory@example.com", "Hi\n\n" + quoted))
    with pytest.raises(InboundRejected, match="no valid link"):
        inbound_email_receive(raw=mail("carla@example.com", "Hi, no link here"))
    with pytest.raises(InboundRejected, match="names no request"):
        inbound_email_receive(raw=mail("carla@example.com", "x\n" + quoted, subject="Hello"))
    message = inbound_email_receive(
        raw=mail("carla@example.com", "Still broken after all.\n\nOn Monday you wrote:\n" + quoted)
    )
    assert message.body == "Still broken after all."
    conversation.refresh_from_db()
    assert conversation.status == "reopened"


def test_article_page_asks_was_this_helpful_and_relates_by_meaning(client, kb):
    from support.models import ArticleFeedback

    html = client.get(f"/articles/{kb.password.slug}/").content.decode()
    assert "Was this article helpful?" in html
    response = client.post(f"/articles/{kb.password.slug}/feedback/", {"helpful": "no"})
    assert response.status_code == 302
    client.post(f"/articles/{kb.password.slug}/feedback/", {"helpful": "yes"})
    vote = ArticleFeedback.objects.get()  # one per session: the second vote updated it
    assert vote.helpful is True and vote.article == kb.password
    assert (
        client.post(f"/articles/{kb.password.slug}/feedback/", {"helpful": "?"}).status_code == 400
    )
    assert (
        client.post(f"/articles/{kb.internal.slug}/feedback/", {"helpful": "no"}).status_code == 404
    )
    # Related articles come from the index (other categories too), never internal ones.
    html = client.get(f"/articles/{kb.wifi.slug}/").content.decode()
    related = html.split("Related articles", 1)[1] if "Related articles" in html else ""
    assert "zebracode" not in related


def test_api_customers_never_see_internal_notes(client, kb, customer, agent):
    client.force_login(customer)
    created = client.post(
        "/api/conversations", {"subject": "Help", "body": "Broken"}, content_type="application/json"
    ).json()
    conversation = Conversation.objects.get(pk=created["id"])
    threads.note_add(conversation=conversation, body="NOTE-ONLY-STAFF", author=agent)
    threads.agent_reply(conversation=conversation, body="On it.", author=agent)
    detail = client.get(f"/api/conversations/{conversation.pk}").json()
    bodies = [m["body"] for m in detail["messages"]]
    assert "On it." in bodies and "NOTE-ONLY-STAFF" not in str(detail)
    staff = Client()
    staff.force_login(agent)
    assert "NOTE-ONLY-STAFF" in str(staff.get(f"/api/conversations/{conversation.pk}").json())
