"""Oversized and malformed requests get a clear 4xx (JSON errors on the API), never a 5xx."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from knowledge.models import Article
from support.models import Feedback, Interaction
from tests.security.conftest import token_for

BIG = 3 * 1024 * 1024  # over MAX_REQUEST_BYTES (2 MiB by default)


def _json_error(response) -> dict:
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert body["error"]["code"] and body["error"]["message"], body
    return body["error"]


@pytest.fixture
def editor_api(users):
    return Client(HTTP_AUTHORIZATION=f"Token {token_for(users.editor)}")


@pytest.fixture
def interaction(seeded_kb, users):
    api = Client(HTTP_AUTHORIZATION=f"Token {token_for(users.customer)}")
    r = api.post("/api/ask", {"question": "How do I reset my password?"}, "application/json")
    return Interaction.objects.get(pk=r.json()["interaction_id"])


MALFORMED_BODIES = [
    ("invalid json", b'{"question": "reset', "application/json"),
    ("trailing garbage", b'{"question": "reset"} xyz', "application/json"),
    ("not utf-8", b'{"question": "\xff\xfe\xfd"}', "application/json"),
    ("json array", b'["question", "reset"]', "application/json"),
    ("json string", b'"reset my password"', "application/json"),
    ("json null", b"null", "application/json"),
    ("empty body", b"", "application/json"),
    ("deep nesting", b"[" * 50_000 + b"]" * 50_000, "application/json"),
    ("xml", b"<question>reset</question>", "application/xml"),
    ("plain text", b"reset my password", "text/plain"),
    ("form with wrong type", b"question=", "application/x-www-form-urlencoded"),
    ("huge number", b'{"question": "x", "conversation_id": 1e400}', "application/json"),
    ("nan", b'{"question": "x", "conversation_id": NaN}', "application/json"),
]

# (DRF's CharField accepts a number as its text: {"question": 123} is a valid question.)
WRONG_TYPES = [
    ("/api/ask", {"question": ["a", "b"]}),
    ("/api/ask", {"question": {"text": "x"}}),
    ("/api/ask", {"question": None}),
    ("/api/ask", {"question": ""}),
    ("/api/ask", {"question": "x" * 10_000}),
    ("/api/ask", {"question": "reset", "conversation_id": "abc"}),
    ("/api/ask", {"question": "reset", "conversation_id": -5}),
    ("/api/feedback", {"interaction_id": "abc", "helpful": True}),
    ("/api/feedback", {"interaction_id": 1, "helpful": "maybe"}),
    ("/api/feedback", {"interaction_id": 1, "comment": ["x"]}),
    ("/api/feedback", {"interaction_id": 2**70, "helpful": True}),
    ("/api/articles", {"title": None, "body": "x"}),
    ("/api/articles", {"title": "t", "body": ["x"]}),
    ("/api/articles", {"title": "t", "body": "b", "visibility": "secret"}),
    ("/api/articles", {"title": "t", "body": "b", "tags": "not-a-list"}),
    ("/api/articles", {"title": "t" * 1000, "body": "b"}),
    ("/api/articles", {"title": "t", "body": "b" * 300_000}),
    ("/api/conversations", {"subject": 1, "body": {}}),
    ("/api/flags", {"article_id": "x", "reason": "nope"}),
]


@pytest.mark.django_db
def test_oversized_json_gets_413_with_a_json_error(seeded_kb, editor_api):
    huge = json.dumps({"question": "x" * BIG})
    for path in ("/api/ask", "/api/articles", "/api/feedback", "/api/conversations"):
        r = editor_api.post(path, huge, content_type="application/json")
        assert r.status_code == 413, (path, r.status_code)
        assert "limit" in _json_error(r)["message"]
    r = Client().post("/api/ask", huge, content_type="application/json")
    assert r.status_code == 413


@pytest.mark.django_db
@pytest.mark.parametrize(
    "name,body,content_type", MALFORMED_BODIES, ids=[m[0] for m in MALFORMED_BODIES]
)
def test_malformed_api_bodies_get_a_json_4xx(seeded_kb, editor_api, name, body, content_type):
    for path in ("/api/ask", "/api/articles", "/api/feedback"):
        r = editor_api.post(path, body, content_type=content_type)
        _json_error(r)


@pytest.mark.django_db
def test_wrong_field_types_get_field_errors(seeded_kb, editor_api, interaction):
    before = Article.objects.count()
    for path, payload in WRONG_TYPES:
        r = editor_api.post(path, payload, content_type="application/json")
        error = _json_error(r)
        if r.status_code == 400:
            assert error["fields"] or error["message"], (path, payload, error)
    assert Article.objects.count() == before  # nothing half-created


@pytest.mark.django_db
def test_bad_query_parameters_and_ids(seeded_kb, editor_api):
    for params in (
        {"q": ""},
        {"q": "x" * 5000},
        {"q": "reset", "top_k": "abc"},
        {"q": "reset", "top_k": 10_000},
        {"q": "reset", "mode": "telepathy"},
        {},
    ):
        _json_error(Client().get("/api/search", params))
    for params in ({"page": "abc"}, {"page": 9999}, {"page_size": "x"}):
        r = Client().get("/api/articles", params)
        assert r.status_code in (200, 400, 404), (params, r.status_code)
    r = Client().get("/api/articles/99999999999999999999")
    assert r.status_code == 404
    _json_error(Client().get("/api/no-such-thing"))
    _json_error(editor_api.patch("/api/articles/1", "{bad", content_type="application/json"))
    _json_error(editor_api.delete("/api/articles/1"))


@pytest.mark.django_db
def test_portal_forms_refuse_bad_input_without_5xx(seeded_kb, interaction, users):
    c = Client()
    for r in (
        c.get("/search/", {"q": "x" * 5000}),
        c.get("/search/", {"q": "reset", "page": "abc"}),
        c.get("/search/", {"q": "reset", "page": "-1"}),
        c.post("/ask/", {"q": ""}),
        c.post("/ask/", {"q": "x" * 50_000}),
        c.post("/ask/stream/", {"q": ""}),
        c.post("/ask/stream/", {"q": "x" * 50_000}),
        c.post("/widget/ask/stream/", {"q": "\x00\x01"}),
        c.post("/ask/", "q=%ff%fe", content_type="application/x-www-form-urlencoded"),
        c.post("/ask/", b"\xff" * 100, content_type="application/octet-stream"),
        c.post("/widget/ask/1/feedback/", {"token": "forged"}),
        c.post("/widget/ask/1/escalate/", {"token": "x" * 10_000}),
        c.get("/articles/%00/"),
        c.get("/categories/" + "a" * 5000 + "/"),
    ):
        assert 200 <= r.status_code < 500, r.status_code
        if r.status_code == 200 and getattr(r, "streaming", False):
            b"".join(r.streaming_content)
    owner = Client()
    owner.force_login(users.customer)
    before = Feedback.objects.count()
    r = owner.post(
        f"/ask/{interaction.pk}/feedback/",
        {"helpful": "yes", "comment": "x" * 100_000},
        HTTP_ACCEPT="application/json",
    )
    assert r.status_code == 400
    assert "too long" in _json_error(r)["message"]
    assert Feedback.objects.count() == before
    huge_form = {"q": "x" * BIG}
    assert c.post("/ask/", huge_form).status_code == 400


@pytest.mark.django_db
def test_nul_bytes_in_portal_input_are_refused_or_dropped_never_5xx(seeded_kb, users):
    """PostgreSQL text cannot hold NUL: raw form input must not reach an INSERT with one."""
    nul = "reset\x00 password"
    customer = Client()
    customer.force_login(users.customer)
    before = Interaction.objects.count()
    assert customer.get("/search/", {"q": nul}).status_code == 200
    assert customer.post("/ask/", {"q": nul}).status_code in (200, 400)
    for path in ("/ask/stream/", "/widget/ask/stream/"):
        r = customer.post(path, {"q": nul})
        assert r.status_code in (200, 400)
        if r.status_code == 200:
            assert "event: error" not in b"".join(r.streaming_content).decode()
    interaction = Interaction.objects.filter(user=users.customer).order_by("pk").last()
    assert interaction is not None and Interaction.objects.count() > before
    assert "\x00" not in interaction.question
    r = customer.post(f"/ask/{interaction.pk}/feedback/", {"helpful": "no", "comment": "bad\x00"})
    assert r.status_code in (200, 302, 400)
    r = customer.post(
        f"/ask/{interaction.pk}/escalate/",
        {"name": "Eve\x00", "email": "eve@example.com", "note": "help\x00 me"},
    )
    assert r.status_code in (200, 400)
    agent = Client()
    agent.force_login(users.agent)
    r = agent.post(
        "/agent/flag/",
        {"article_id": seeded_kb.public[0].pk, "reason": "outdated", "comment": "old\x00"},
    )
    assert r.status_code < 500


@pytest.mark.django_db
def test_nul_bytes_in_editor_and_insights_forms_never_5xx(seeded_kb, users):
    from insights.models import Suggestion

    suggestion = Suggestion.objects.create(
        kind="new_article", title="Refund timelines", signature="sig-nul", score=1.0
    )
    editor = Client()
    editor.force_login(users.editor)
    before = Article.objects.count()
    r = editor.post(
        f"/insights/suggestions/{suggestion.pk}/edit/",
        {"title": "Refunds\x00", "body": "Body with a NUL\x00 byte."},
    )
    assert r.status_code < 500
    r = editor.post("/editor/articles/new/", {"title": "New\x00", "body": "x\x00"})
    assert r.status_code < 500
    article = seeded_kb.public[0]
    r = editor.post(
        f"/editor/articles/{article.pk}/edit/",
        {"title": "T", "body": "b\x00", "base_revision_id": article.latest_revision_id},
    )
    assert r.status_code < 500
    api = Client(HTTP_AUTHORIZATION=f"Token {token_for(users.editor)}")
    r = api.post("/api/articles", {"title": "t\x00", "body": "b"}, "application/json")
    assert r.status_code == 400
    assert Article.objects.count() <= before + 1
