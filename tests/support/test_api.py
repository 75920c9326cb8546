"""REST API: permissions per role (table-driven), bad input, error bodies, SSE, schema."""

from __future__ import annotations

import json

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from knowledge.models import Article, Revision
from support.models import ArticleFlag, Conversation, Feedback, Interaction, Message
from tests.support.conftest import sse_events

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "customer", "agent", "editor", "reviewer"]


@pytest.fixture
def users(customer, agent, editor, reviewer):
    return {
        "anonymous": None,
        "customer": customer,
        "agent": agent,
        "editor": editor,
        "reviewer": reviewer,
    }


def api_for(users, role: str) -> APIClient:
    client = APIClient()
    user = users[role]
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


# --- search ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "sees_internal"),
    [("anonymous", False), ("customer", False), ("agent", True), ("editor", True)],
)
def test_search_audience_follows_role(kb, users, role, sees_internal):
    response = api_for(users, role).get("/api/search", {"q": "zebracode refund override"})
    assert response.status_code == 200
    ids = {h["article_id"] for h in response.json()["hits"]}
    assert (kb.internal.pk in ids) is sees_internal
    assert kb.draft.pk not in ids
    assert response.json()["audience"] == ("internal" if sees_internal else "public")


@pytest.mark.parametrize(
    ("params", "field"),
    [({}, "q"), ({"q": "x", "top_k": "many"}, "top_k"), ({"q": "x", "top_k": 0}, "top_k"),
     ({"q": "x" * 501}, "q"), ({"q": "x", "mode": "magic"}, "mode")],
)  # fmt: skip
def test_search_bad_params(kb, params, field):
    error = assert_error(APIClient().get("/api/search", params), 400, "invalid")
    assert field in error["fields"]


def test_search_rate_limited_with_retry_after(kb, settings):
    settings.RATE_LIMIT_SEARCH_PER_MINUTE = 1
    client = APIClient()
    assert client.get("/api/search", {"q": "wifi"}).status_code == 200
    response = client.get("/api/search", {"q": "wifi"})
    assert_error(response, 429, "throttled")
    assert int(response["Retry-After"]) >= 1


# --- ask ------------------------------------------------------------------------------


def test_ask_json_answer_with_citations(kb):
    response = APIClient().post("/api/ask", {"question": "How do I reset my password?"}, "json")
    assert response.status_code == 200
    body = response.json()
    assert body["citations"][0]["article_id"] == kb.password.pk
    interaction = Interaction.objects.get(pk=body["interaction_id"])
    assert interaction.channel == "api" and interaction.audience == "public"


def test_ask_as_agent_uses_internal_articles(kb, users):
    response = api_for(users, "agent").post(
        "/api/ask", {"question": "How do I override a refund with zebracode?"}, "json"
    )
    assert response.status_code == 200
    assert kb.internal.pk in {c["article_id"] for c in response.json()["citations"]}


def test_ask_as_customer_never_cites_internal(kb, users):
    response = api_for(users, "customer").post(
        "/api/ask", {"question": "How do I override a refund with zebracode?"}, "json"
    )
    assert kb.internal.pk not in {c["article_id"] for c in response.json()["citations"]}


@pytest.mark.parametrize("accept_header", [False, True])
def test_ask_streams_sse(kb, accept_header):
    client = APIClient()
    if accept_header:
        response = client.post(
            "/api/ask",
            {"question": "reset password"},
            "json",
            HTTP_ACCEPT="text/event-stream",
        )
    else:
        response = client.post("/api/ask?stream=1", {"question": "reset password"}, "json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    assert events[0][0] == "meta" and events[-1][0] == "done"
    assert Interaction.objects.filter(pk=events[-1][1]["interaction_id"], channel="api").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({}, "question"), ({"question": ""}, "question"), ({"question": ["a"]}, "question"),
     ({"question": "ok", "conversation_id": "x"}, "conversation_id")],
)  # fmt: skip
def test_ask_bad_input(kb, payload, field):
    error = assert_error(APIClient().post("/api/ask", payload, "json"), 400, "invalid")
    assert field in error["fields"]
    assert not Interaction.objects.exists()


def test_ask_oversized_question_is_400_with_limit(kb, settings):
    question = "x" * (settings.KB_MAX_QUESTION_CHARS + 1)
    error = assert_error(APIClient().post("/api/ask", {"question": question}, "json"), 400)
    assert "limit" in error["message"]


def test_malformed_json_is_400_json(kb):
    response = APIClient().post("/api/ask", "{not json", content_type="application/json")
    error = assert_error(response, 400)
    assert "JSON" in error["message"]


def test_json_array_body_is_400(kb):
    response = APIClient().post("/api/ask", "[1, 2]", content_type="application/json")
    assert_error(response, 400, "invalid")


def test_request_body_over_limit_is_413_json(kb, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    body = json.dumps({"question": "x" * 5000})
    response = APIClient().post("/api/ask", body, content_type="application/json")
    assert_error(response, 413, "payload_too_large")


def test_unknown_api_path_is_json_404():
    assert_error(APIClient().get("/api/nope"), 404, "not_found")


# --- articles -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "internal_visible", "draft_visible"),
    [("anonymous", False, False), ("customer", False, False), ("agent", True, False),
     ("editor", True, True), ("reviewer", True, True)],
)  # fmt: skip
def test_article_list_and_detail_by_role(kb, users, role, internal_visible, draft_visible):
    client = api_for(users, role)
    response = client.get("/api/articles")
    assert response.status_code == 200
    body = response.json()
    assert {"count", "next", "previous", "results"} <= set(body)
    ids = {a["id"] for a in body["results"]}
    assert kb.password.pk in ids
    assert (kb.internal.pk in ids) is internal_visible
    assert (kb.draft.pk in ids) is draft_visible
    detail = client.get(f"/api/articles/{kb.internal.pk}")
    if internal_visible:
        assert detail.status_code == 200
        assert detail.json()["published_revision"]["body"].startswith("## Refund")
    else:
        assert_error(detail, 404, "not_found")


def test_article_list_paginates(kb):
    response = APIClient().get("/api/articles", {"page_size": 1})
    body = response.json()
    assert body["count"] == 2 and len(body["results"]) == 1 and body["next"]
    assert_error(APIClient().get("/api/articles", {"page": 99}), 404)


def test_unknown_article_is_404_json(kb):
    assert_error(APIClient().get("/api/articles/999999"), 404, "not_found")


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("customer", 403), ("agent", 403), ("editor", 201), ("reviewer", 201)],
)
def test_article_create_permissions(kb, users, role, status):
    response = api_for(users, role).post(
        "/api/articles",
        {"title": "New guide", "body": "Some text", "tags": ["a"], "category": "Guides"},
        "json",
    )
    assert response.status_code == status, response.content
    if status == 201:
        article = Article.objects.get(pk=response.json()["id"])
        assert article.status == "draft" and article.category.name == "Guides"
    else:
        assert_error(response, status)
        assert not Article.objects.filter(title="New guide").exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [({"body": "x"}, "title"), ({"title": "t", "body": 5, "visibility": "secret"}, "visibility"),
     ({"title": "t", "body": "b", "tags": "notalist"}, "tags")],
)  # fmt: skip
def test_article_create_bad_input(kb, users, payload, field):
    error = assert_error(api_for(users, "editor").post("/api/articles", payload, "json"), 400)
    assert field in error["fields"]


def test_article_body_over_limit_is_rejected_cleanly(kb, users, settings):
    settings.KB_MAX_ARTICLE_BODY_CHARS = 1000
    response = api_for(users, "editor").post(
        "/api/articles", {"title": "Big", "body": "x" * 1001}, "json"
    )
    error = assert_error(response, 400)
    assert "limit" in error["message"]
    assert not Article.objects.filter(title="Big").exists()


def test_article_patch_saves_revision_and_detects_conflict(kb, users):
    client = api_for(users, "editor")
    base = kb.password.latest_revision_id
    first = client.patch(
        f"/api/articles/{kb.password.pk}",
        {"base_revision_id": base, "body": "Updated body", "summary": "fix"},
        "json",
    )
    assert first.status_code == 200, first.content
    assert first.json()["latest_revision"]["body"] == "Updated body"
    stale = client.patch(
        f"/api/articles/{kb.password.pk}",
        {"base_revision_id": base, "body": "Someone else's body"},
        "json",
    )
    error = assert_error(stale, 409, "conflict")
    assert error["latest_revision_id"] == first.json()["latest_revision"]["id"]
    assert "while you were editing" in error["message"]
    assert not Revision.objects.filter(body="Someone else's body").exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("customer", 403), ("agent", 403), ("editor", 200)],
)
def test_article_patch_permissions(kb, users, role, status):
    response = api_for(users, role).patch(
        f"/api/articles/{kb.password.pk}",
        {"base_revision_id": kb.password.latest_revision_id, "body": "changed"},
        "json",
    )
    assert response.status_code == status


def test_article_patch_requires_base_revision(kb, users):
    response = api_for(users, "editor").patch(
        f"/api/articles/{kb.password.pk}", {"body": "x"}, "json"
    )
    assert "base_revision_id" in assert_error(response, 400)["fields"]


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("customer", 403), ("agent", 403), ("editor", 403), ("reviewer", 200)],
)
def test_publish_permissions(kb, users, role, status):
    response = api_for(users, role).post(f"/api/articles/{kb.draft.pk}/publish", {}, "json")
    assert response.status_code == status, response.content
    kb.draft.refresh_from_db()
    assert (kb.draft.status == "published") is (status == 200)


def test_publish_unknown_article_is_404(kb, users):
    assert_error(api_for(users, "reviewer").post("/api/articles/424242/publish"), 404)


# --- conversations, feedback, flags ----------------------------------------------------


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("customer", 201), ("agent", 201)],
)
def test_conversation_create_permissions(kb, users, role, status):
    response = api_for(users, role).post(
        "/api/conversations", {"subject": "Help", "body": "My TV is dark"}, "json"
    )
    assert response.status_code == status


def test_conversations_visibility_and_messages(kb, users):
    customer_api = api_for(users, "customer")
    created = customer_api.post(
        "/api/conversations", {"subject": "Help", "body": "My TV is dark"}, "json"
    ).json()
    other = Conversation.objects.create(subject="Someone else's")
    listed = {c["id"] for c in customer_api.get("/api/conversations").json()["results"]}
    assert listed == {created["id"]}
    assert_error(customer_api.get(f"/api/conversations/{other.pk}"), 404)
    agent_api = api_for(users, "agent")
    assert {created["id"], other.pk} <= {
        c["id"] for c in agent_api.get("/api/conversations").json()["results"]
    }
    reply = agent_api.post(
        f"/api/conversations/{created['id']}/messages", {"body": "Try the power cable"}, "json"
    )
    assert reply.status_code == 201 and reply.json()["role"] == "agent"
    detail = customer_api.get(f"/api/conversations/{created['id']}").json()
    assert [m["role"] for m in detail["messages"]] == ["customer", "agent"]
    assert detail["status"] == "agent_replied"
    assert_error(api_for(users, "anonymous").get(f"/api/conversations/{other.pk}"), 401)
    assert_error(
        customer_api.post(f"/api/conversations/{created['id']}/messages", {"body": ""}, "json"),
        400,
    )
    assert_error(agent_api.post("/api/conversations/99999/messages", {"body": "x"}, "json"), 404)


def test_feedback_on_own_answer(kb, users):
    client = api_for(users, "customer")
    ask = client.post("/api/ask", {"question": "reset password"}, "json").json()
    response = client.post(
        "/api/feedback", {"interaction_id": ask["interaction_id"], "helpful": False}, "json"
    )
    assert response.status_code == 201
    assert Feedback.objects.get().helpful is False
    stranger = APIClient()
    assert stranger.post(
        "/api/feedback", {"interaction_id": ask["interaction_id"], "helpful": True}, "json"
    ).status_code in (401, 404)
    assert_error(
        client.post("/api/feedback", {"interaction_id": "abc", "helpful": True}, "json"), 400
    )
    assert_error(client.post("/api/feedback", {"interaction_id": 987654}, "json"), 404)


def test_suggestion_usage_feedback_is_agent_only(kb, users):
    interaction = Interaction.objects.create(question="q", answer_text="a", channel="agent")
    assert_error(
        api_for(users, "customer").post(
            "/api/feedback", {"interaction_id": interaction.pk, "suggestion_usage": "used"}, "json"
        ),
        404,
    )
    response = api_for(users, "agent").post(
        "/api/feedback", {"interaction_id": interaction.pk, "suggestion_usage": "edited"}, "json"
    )
    assert response.status_code == 201
    assert Feedback.objects.get().suggestion_usage == "edited"


@pytest.mark.parametrize(
    ("role", "status"),
    [("anonymous", 401), ("customer", 403), ("agent", 201), ("editor", 201)],
)
def test_flag_permissions(kb, users, role, status):
    response = api_for(users, role).post(
        "/api/flags", {"article_id": kb.password.pk, "reason": "outdated"}, "json"
    )
    assert response.status_code == status
    assert ArticleFlag.objects.exists() is (status == 201)


@pytest.mark.parametrize(
    ("payload", "status"),
    [({"article_id": 999999, "reason": "wrong"}, 404), ({"article_id": 1, "reason": "meh"}, 400),
     ({"reason": "wrong"}, 400), ({"article_id": "x", "reason": "wrong"}, 400)],
)  # fmt: skip
def test_flag_bad_input(kb, users, payload, status):
    assert_error(api_for(users, "agent").post("/api/flags", payload, "json"), status)


def test_token_endpoint_and_session_auth(kb, users, client):
    assert client.post("/api/token").status_code in (401, 403)
    client.force_login(users["agent"])
    response = client.post("/api/token")
    assert response.status_code == 200
    assert Token.objects.get(user=users["agent"]).key == response.json()["token"]


def test_create_api_token_command(users, capsys):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    call_command("create_api_token", users["agent"].username)
    key = capsys.readouterr().out.strip()
    assert Token.objects.get(user=users["agent"]).key == key
    with pytest.raises(CommandError):
        call_command("create_api_token", "nobody-here")


def test_message_agent_reply_records_suggestion_usage(kb, users):
    conversation = Conversation.objects.create(subject="Reset")
    Message.objects.create(conversation=conversation, role="customer", body="reset password?")
    suggestion = Interaction.objects.create(
        question="reset password?",
        answer_text="Open Settings and press Reset password [1].",
        channel="agent",
        conversation=conversation,
    )
    api = api_for(users, "agent")
    api.post(
        f"/api/conversations/{conversation.pk}/messages",
        {"body": suggestion.answer_text, "suggestion_id": suggestion.pk},
        "json",
    )
    assert Message.objects.get(role="agent").suggestion_usage == "used"
    assert Feedback.objects.get().suggestion_usage == "used"


# --- schema ---------------------------------------------------------------------------


def test_openapi_schema_validates_and_lists_endpoints(client):
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.validation import validate_schema

    schema = SchemaGenerator().get_schema(request=None, public=True)
    validate_schema(schema)
    for path in ["/api/search", "/api/ask", "/api/articles", "/api/articles/{id}",
                 "/api/articles/{id}/publish", "/api/conversations", "/api/conversations/{id}",
                 "/api/conversations/{id}/messages", "/api/feedback", "/api/flags"]:  # fmt: skip
        assert path in schema["paths"], path
    response = client.get("/api/schema/")
    assert response.status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui" in html and "cdn" not in html.lower()


def test_openapi_schema_generates_without_warnings(tmp_path):
    from django.core.management import call_command

    out = tmp_path / "schema.yml"
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(out))
    assert "/api/ask" in out.read_text()


ODD_QUESTIONS = [
    "🙂🙂🙂 🔥",  # emoji only
    "¿Cómo reinicio mi contraseña? how do I reset it 请帮忙",  # mixed languages
    "reset " * 330,  # ~2,000 characters of one word
    "\u202e\u200bpassword\u200d",  # bidi override and zero-width characters
    "<script>alert(1)</script> password",
]


@pytest.mark.parametrize("question", ODD_QUESTIONS)
def test_odd_questions_get_an_answer_or_an_abstention_on_every_channel(client, kb, question):
    """Never a 500: the API, the portal and its stream each answer or abstain, and log it."""
    api = APIClient().post("/api/ask", {"question": question}, "json")
    assert api.status_code == 200, api.content
    body = api.json()
    assert body["text"].strip()
    assert isinstance(body["abstained"], bool)
    portal = client.post("/ask/", {"q": question})
    assert portal.status_code == 200
    assert "<script>alert(1)</script>" not in portal.content.decode()
    stream = client.post("/ask/stream/", {"q": question})
    assert stream.status_code == 200
    assert b"event: done" in b"".join(stream.streaming_content)
    assert Interaction.objects.count() == 3
