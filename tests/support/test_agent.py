"""Agent assist: access control, queue filters, suggested replies, usage feedback, flags."""

from __future__ import annotations

import pytest

from support import services
from support.models import ArticleFlag, Conversation, Feedback, Interaction, Message

pytestmark = pytest.mark.django_db


@pytest.fixture
def conversation(kb):
    return services.conversation_create(
        subject="Password reset link",
        body="How do I reset my password? The email never came.",
        name="Carla",
        email="carla@example.com",
    )


def test_signed_out_users_go_to_login(client, conversation):
    response = client.get("/agent/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    response = client.get(f"/agent/conversations/{conversation.pk}/")
    assert response.status_code == 302


def test_customers_get_403(client, customer, conversation):
    client.force_login(customer)
    assert client.get("/agent/").status_code == 403
    assert client.post(f"/agent/conversations/{conversation.pk}/suggest/").status_code == 403
    assert client.post("/agent/flag/", {"article_id": 1, "reason": "wrong"}).status_code == 403


@pytest.mark.parametrize("role", ["agent", "editor", "admin_user"])
def test_staff_roles_see_the_queue(client, request, conversation, role):
    client.force_login(request.getfixturevalue(role))
    response = client.get("/agent/")
    assert response.status_code == 200
    assert "Password reset link" in response.content.decode()


def test_queue_filters_status_and_assignment(client, agent, editor, conversation):
    resolved = services.conversation_create(subject="Old resolved thing", body="hi")
    services.conversation_update(conversation=resolved, status="resolved")
    theirs = services.conversation_create(subject="Assigned to editor", body="hi")
    services.conversation_update(conversation=theirs, assigned_to=editor)
    client.force_login(agent)
    open_html = client.get("/agent/").content.decode()  # opens on "needs action"
    assert "Password reset link" in open_html and "Old resolved thing" not in open_html
    assert 'value="needs_action" checked' in open_html
    resolved_html = client.get("/agent/", {"status": "resolved"}).content.decode()
    assert "Old resolved thing" in resolved_html and "Password reset link" not in resolved_html
    unassigned = client.get("/agent/", {"status": "all", "scope": "unassigned"}).content.decode()
    assert "Assigned to editor" not in unassigned and "Password reset link" in unassigned
    client.post(f"/agent/conversations/{conversation.pk}/status/", {"assign": "me"})
    mine = client.get("/agent/", {"status": "all", "scope": "mine"}).content.decode()
    assert "Password reset link" in mine and "Assigned to editor" not in mine


def test_conversation_page_shows_messages(client, agent, conversation):
    client.force_login(agent)
    html = client.get(f"/agent/conversations/{conversation.pk}/").content.decode()
    assert "The email never came." in html
    assert 'id="reply-body"' in html and "Suggested reply" in html


def test_suggested_reply_is_customer_facing_with_internal_guidance_apart(client, agent, kb):
    conversation = services.conversation_create(
        subject="Refund", body="Can you override my refund? Someone said zebracode."
    )
    client.force_login(agent)
    response = client.post(
        f"/agent/conversations/{conversation.pk}/suggest/", HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 200
    suggestion = Interaction.objects.get(channel="agent")
    # The draft is written from public articles only: internal text can never be sent.
    assert suggestion.conversation == conversation and suggestion.audience == "public"
    assert kb.internal not in suggestion.cited_articles.all()
    assert "zebracode" not in suggestion.answer_text.replace("Someone said zebracode", "")
    html = response.content.decode()
    assert f'name="suggestion_id" form="reply-form" value="{suggestion.pk}"' in html
    # ... and the internal article is shown beside it, labelled, outside the reply template.
    guidance = html.split('id="internal-guidance"', 1)[1]
    assert "Refund override with zebracode" in guidance and "not for the customer" in guidance
    raw = html.split('<template id="suggestion-raw">', 1)[1].split("</template>")[0]
    assert "override" not in raw


def test_related_sidebar_includes_internal_articles_and_search(client, agent, kb, conversation):
    client.force_login(agent)
    html = client.get(f"/agent/conversations/{conversation.pk}/related/").content.decode()
    assert "How to reset your password" in html
    assert "Insert link" in html
    html = client.get(
        f"/agent/conversations/{conversation.pk}/related/", {"q": "zebracode override"}
    ).content.decode()
    assert "Refund override with zebracode" in html and "badge internal" in html


@pytest.mark.parametrize(
    ("sent", "usage"),
    [
        ("SAME", "used"),
        ("SAME Let me know if that helps.", "edited"),
        ("Please restart the router and call us back tomorrow.", "discarded"),
    ],
)
def test_reply_records_suggestion_usage(client, agent, conversation, sent, usage):
    suggestion = Interaction.objects.create(
        question="reset?",
        answer_text="Open Settings, choose Account and press Reset password [1].",
        channel="agent",
        audience="internal",
        conversation=conversation,
    )
    client.force_login(agent)
    body = sent.replace("SAME", suggestion.answer_text)
    response = client.post(
        f"/agent/conversations/{conversation.pk}/reply/",
        {"body": body, "suggestion_id": suggestion.pk},
    )
    assert response.status_code == 302
    message = Message.objects.get(role="agent")
    assert message.body == body and message.suggestion == suggestion
    assert message.suggestion_usage == usage
    feedback = Feedback.objects.get(interaction=suggestion)
    assert feedback.suggestion_usage == usage and feedback.user == agent
    conversation.refresh_from_db()
    assert conversation.status == "agent_replied"


def test_empty_reply_is_rejected_and_keeps_nothing(client, agent, conversation):
    client.force_login(agent)
    response = client.post(f"/agent/conversations/{conversation.pk}/reply/", {"body": "  "})
    assert response.status_code == 400
    assert not Message.objects.filter(role="agent").exists()


def test_send_and_resolve_and_status_change(client, agent, conversation):
    client.force_login(agent)
    client.post(f"/agent/conversations/{conversation.pk}/reply/", {"body": "Done!", "resolve": "1"})
    conversation.refresh_from_db()
    assert conversation.status == "resolved"
    assert conversation.resolved_by == agent
    # resolved -> waiting for agent is not a move of the state machine: refused, clearly
    refused = client.post(
        f"/agent/conversations/{conversation.pk}/status/", {"status": "waiting_agent"}
    )
    assert refused.status_code == 400 and "cannot become" in refused.content.decode()
    client.post(f"/agent/conversations/{conversation.pk}/status/", {"status": "reopened"})
    conversation.refresh_from_db()
    assert conversation.status == "reopened"
    bad = client.post(f"/agent/conversations/{conversation.pk}/status/", {"status": "nope"})
    assert bad.status_code == 400


def test_flag_article_from_sidebar(client, agent, kb, conversation):
    client.force_login(agent)
    response = client.post(
        "/agent/flag/",
        {
            "article_id": kb.password.pk,
            "reason": "outdated",
            "comment": "Link is valid 1 hour now",
            "conversation_id": conversation.pk,
        },
        HTTP_HX_REQUEST="true",
    )
    assert response.status_code == 200 and "Flagged as outdated" in response.content.decode()
    flag = ArticleFlag.objects.get()
    assert flag.article == kb.password and flag.flagged_by == agent
    assert flag.conversation == conversation and flag.comment == "Link is valid 1 hour now"
    bad = client.post("/agent/flag/", {"article_id": kb.password.pk, "reason": "boring"})
    assert bad.status_code == 400 and ArticleFlag.objects.count() == 1


def test_agent_article_view_shows_internal(client, agent, customer, kb):
    client.force_login(agent)
    assert client.get(f"/agent/articles/{kb.internal.pk}/").status_code == 200
    assert client.get(f"/agent/articles/{kb.draft.pk}/").status_code == 404
    client.force_login(customer)
    assert client.get(f"/agent/articles/{kb.internal.pk}/").status_code == 403


def test_messages_poll_signals_change(client, agent, conversation):
    client.force_login(agent)
    same = client.get(f"/agent/conversations/{conversation.pk}/messages/", {"count": 1})
    assert "HX-Trigger" not in same
    services.message_add(conversation=conversation, role="customer", body="Any news?")
    changed = client.get(f"/agent/conversations/{conversation.pk}/messages/", {"count": 1})
    assert changed["HX-Trigger"] == "kb-conversation-changed"
    assert "Any news?" in changed.content.decode()


def test_customer_message_reopens_conversation(conversation):
    services.conversation_update(conversation=conversation, status="waiting_customer")
    services.message_add(conversation=conversation, role="customer", body="Still broken")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.WAITING_AGENT
    services.conversation_update(conversation=conversation, status="resolved")
    services.message_add(conversation=conversation, role="customer", body="Broken again")
    conversation.refresh_from_db()
    assert conversation.status == Conversation.Status.REOPENED


def test_suggestion_reply_text_and_usage_ignore_markers_and_link_footer():
    text = services.suggestion_reply_text(
        answer_text="Press Reset [1]. Check spam [2].",
        links=[("Reset guide", "http://testserver/articles/reset/")],
    )
    assert text == (
        "Press Reset. Check spam.\n\nHelpful articles:\n- Reset guide: http://testserver/articles/reset/"
    )
    classify = services.suggestion_usage_classify
    assert classify(suggestion_text="Press Reset [1]. Check spam [2].", sent_text=text) == "used"
    edited = text.replace("Check spam.", "Check the spam folder too.")
    assert (
        classify(suggestion_text="Press Reset [1]. Check spam [2].", sent_text=edited) == "edited"
    )
    assert classify(suggestion_text="", sent_text="anything") == "discarded"


def test_conversation_page_reuses_draft_until_customer_writes(client, agent, kb, conversation):
    client.force_login(agent)
    url = f"/agent/conversations/{conversation.pk}/"
    assert client.post(url + "suggest/").status_code == 302  # no-JS: back to the page
    suggestion = Interaction.objects.get(channel="agent")
    html = client.get(url).content.decode()
    assert f'name="suggestion_id" form="reply-form" value="{suggestion.pk}"' in html
    assert Interaction.objects.filter(channel="agent").count() == 1
    services.message_add(conversation=conversation, role="customer", body="Any update?")
    html = client.get(url).content.decode()
    assert "Drafting a reply" in html and 'name="suggestion_id"' not in html


def test_support_models_in_django_admin(client, admin_user, conversation):
    client.force_login(admin_user)
    for name in ["conversation", "interaction", "feedback", "articleflag", "searchlog"]:
        assert client.get(f"/admin/support/{name}/").status_code == 200, name
    assert client.get(f"/admin/support/conversation/{conversation.pk}/change/").status_code == 200
