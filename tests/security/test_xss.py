"""Script payloads in every user-supplied field stay inert on every page that shows them."""

from __future__ import annotations

import json

import pytest
from bs4 import BeautifulSoup
from django.test import Client

from insights.models import Suggestion
from insights.services import mine_logs
from knowledge import article_input
from knowledge import services as knowledge
from retrieval.services import index_rebuild
from support import services as support_services
from support.models import Conversation, Interaction
from tests.security.conftest import token_for

PAYLOADS = (
    '<script>alert("xss-s")</script>',
    '<img src=x onerror=alert("xss-i")>',
    '"><svg onload=alert("xss-v")>',
    '[click me](javascript:alert("xss-j"))',
    "' onmouseover='alert(\"xss-a\")' x='",
    "<a href=\"javascript:alert('xss-h')\">link</a>",
    "<iframe src=javascript:alert('xss-f')></iframe>",
)
PAYLOAD = " ".join(PAYLOADS)
RAW_FORBIDDEN = ('<script>alert("xss', "<img src=x onerror", "<svg onload", "<iframe src=java")


def xss_problems(html: str, where: str) -> list[str]:
    """Live script from a payload: raw tags, on* handlers, javascript: URLs, script bodies."""
    problems = [f"{where}: raw {raw!r}" for raw in RAW_FORBIDDEN if raw in html]
    soup = BeautifulSoup(html, "html.parser")
    for tag in soup.find_all(True):
        for attr, value in tag.attrs.items():
            text = " ".join(value) if isinstance(value, list) else str(value)
            if attr.lower().startswith("on") and "xss" in text:
                problems.append(f"{where}: <{tag.name} {attr}={text!r}>")
            if attr.lower() in ("href", "src", "action", "formaction") and (
                text.strip().lower().startswith("javascript:")
            ):
                problems.append(f"{where}: <{tag.name} {attr}={text!r}>")
        # Escaped text inside a chart's <svg> is fine; a script body with the payload is not.
        if (
            tag.name == "script"
            and "xss" in tag.get_text()
            and tag.get("type") not in ("application/json", "application/ld+json")
        ):
            problems.append(f"{where}: <script> carries the payload")
        if tag.name in ("iframe", "object", "embed") and any(
            "xss" in str(v) for v in tag.attrs.values()
        ):
            problems.append(f"{where}: <{tag.name}> carries the payload")
    return problems


@pytest.fixture
def hostile_world(users, settings):
    settings.INSIGHTS_MIN_CLUSTER_SIZE = 1
    editor = users.editor
    public = knowledge.article_create_published(
        title=f"Reset password {PAYLOADS[0]}"[:300],
        body=f"## Steps {PAYLOADS[1]}\n\nReset your password from Settings. {PAYLOAD}\n",
        author=users.admin,
        category=article_input.category_get_or_create(name=f"Cat {PAYLOADS[2]}"[:200]),
        tags=article_input.tags_get_or_create(names=["tag-" + PAYLOADS[1][:80]]),
    )
    internal = knowledge.article_create_published(
        title=f"Internal reset {PAYLOADS[1]}",
        body=f"Internal steps to reset the password. {PAYLOAD}",
        author=users.admin,
        visibility="internal",
    )
    knowledge.revision_save(
        article=public,
        title=f"Draft {PAYLOADS[4]}",
        body=f"Draft edit {PAYLOAD}",
        author=editor,
        base_revision_id=public.latest_revision_id,
        summary=f"summary {PAYLOADS[0]}",
    )
    index_rebuild()

    customer = Client()
    customer.force_login(users.customer)
    question = f"How do I reset my password? {PAYLOAD}"
    customer.post("/ask/", {"q": question})
    anon = Client()
    anon.post("/ask/", {"q": f"reset password please {PAYLOADS[1]}"})
    interaction = Interaction.objects.filter(user=users.customer).latest("pk")
    customer.post(
        f"/ask/{interaction.pk}/feedback/", {"helpful": "no", "comment": f"Bad {PAYLOAD}"}
    )
    customer.post(
        f"/ask/{interaction.pk}/escalate/",
        {"name": f"Eve {PAYLOADS[2]}", "email": "eve@example.com", "note": f"Help {PAYLOAD}"},
    )
    conversation = Conversation.objects.latest("pk")
    api = Client(HTTP_AUTHORIZATION=f"Token {token_for(users.customer)}")
    r = api.post(
        "/api/conversations",
        {"subject": f"Subject {PAYLOADS[0]}", "body": f"Message {PAYLOAD}"},
        content_type="application/json",
    )
    assert r.status_code == 201
    support_services.message_add(
        conversation=conversation, role="customer", body=f"Follow-up {PAYLOAD}", author=None
    )
    agent = Client()
    agent.force_login(users.agent)
    agent.post(f"/agent/conversations/{conversation.pk}/reply/", {"body": f"Agent reply {PAYLOAD}"})
    agent.post(
        "/agent/flag/",
        {"article_id": public.pk, "reason": "outdated", "comment": f"Flag {PAYLOAD}"},
    )
    mine_logs()
    return {
        "public": public,
        "internal": internal,
        "conversation": conversation,
        "interaction": interaction,
        "customer": customer,
        "agent": agent,
    }


@pytest.mark.django_db
def test_payloads_are_escaped_on_every_page(hostile_world, users):
    w = hostile_world
    public, conversation = w["public"], w["conversation"]
    editor = Client()
    editor.force_login(users.reviewer)
    admin = Client()
    admin.force_login(users.admin)
    anon = Client()
    pages: list[tuple[str, Client, str, dict | None]] = [
        ("home", anon, "/", None),
        ("article", anon, f"/articles/{public.slug}/", None),
        ("category", anon, f"/categories/{public.category.slug}/", None),
        ("search", anon, "/search/?q=reset+password", None),
        ("search echo", anon, "/search/", {"q": PAYLOAD[:450]}),
        ("ask echo", anon, "/ask/", {"q": PAYLOAD}),
        ("answer", w["customer"], f"/ask/{w['interaction'].pk}/", None),
        ("agent queue", w["agent"], "/agent/", None),
        ("agent conversation", w["agent"], f"/agent/conversations/{conversation.pk}/", None),
        ("agent messages", w["agent"], f"/agent/conversations/{conversation.pk}/messages/", None),
        ("agent related", w["agent"], f"/agent/conversations/{conversation.pk}/related/", None),
        ("agent article", w["agent"], f"/agent/articles/{w['internal'].pk}/", None),
        ("editor list", editor, "/editor/", None),
        ("editor article", editor, f"/editor/articles/{public.pk}/", None),
        ("editor edit", editor, f"/editor/articles/{public.pk}/edit/", None),
        ("editor history", editor, f"/editor/articles/{public.pk}/history/", None),
        ("editor revision", editor, f"/editor/articles/{public.pk}/revisions/1/", None),
        ("editor revision 2", editor, f"/editor/articles/{public.pk}/revisions/2/", None),
        ("review queue", editor, "/editor/review/", None),
        ("audit", editor, "/editor/audit/", None),
        ("insights", editor, "/insights/", None),
        ("analytics", editor, "/insights/analytics/", None),
        ("admin articles", admin, "/admin/knowledge/article/", None),
        ("admin conversations", admin, "/admin/support/conversation/", None),
        ("admin feedback", admin, "/admin/support/feedback/", None),
    ]
    for suggestion in Suggestion.objects.all():
        pages.append(("suggestion", editor, f"/insights/suggestions/{suggestion.pk}/", None))
    problems = []
    for name, client, path, params in pages:
        r = client.get(path, params or {})
        assert r.status_code in (200, 400), (name, r.status_code)
        problems += xss_problems(r.content.decode(), name)
    # POST responses that render the payload back.
    for name, client, path, data, headers in [
        ("ask post", anon, "/ask/", {"q": f"reset password {PAYLOAD}"}, {}),
        ("search fragment", anon, "/search/", None, {"HTTP_HX_REQUEST": "true"}),
        ("suggest", w["agent"], f"/agent/conversations/{conversation.pk}/suggest/", {}, {}),
        ("preview", editor, "/editor/preview/", {"body": PAYLOAD}, {}),
    ]:
        if data is None:
            r = client.get(path, {"q": f"reset {PAYLOADS[1]}"}, **headers)
        else:
            r = client.post(path, data, **headers)
        assert r.status_code < 500, (name, r.status_code)
        problems += xss_problems(r.content.decode(), name)
    # The streamed answer carries HTML the page inserts as is: it must be escaped too.
    r = anon.post("/ask/stream/", {"q": f"reset password {PAYLOAD}"})
    stream = b"".join(r.streaming_content).decode()
    done = [line for line in stream.splitlines() if line.startswith("data:") and '"answer"' in line]
    assert done
    answer = json.loads(done[-1][5:])["answer"]
    problems += xss_problems(answer["html"], "stream html")
    print(f"\nXSS: {len(pages) + 5} pages and responses checked for {len(PAYLOADS)} payloads")
    assert problems == [], "\n".join(problems)
    # The control: the payload did reach the pages, as text.
    article_html = anon.get(f"/articles/{public.slug}/").content.decode()
    assert "&lt;script&gt;alert(" in article_html or "&lt;script&gt;" in article_html
    conv_html = w["agent"].get(f"/agent/conversations/{conversation.pk}/").content.decode()
    assert "xss-i" in conv_html


def test_checker_catches_live_payloads():
    assert xss_problems('<p><img src=x onerror=alert("xss-i")></p>', "t")
    assert xss_problems('<a href="javascript:alert(1)">x</a>', "t")
    assert xss_problems('<script>alert("xss-s")</script>', "t")
    assert not xss_problems("<p>&lt;script&gt;alert(&quot;xss-s&quot;)&lt;/script&gt;</p>", "t")
