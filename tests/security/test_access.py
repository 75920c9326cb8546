"""Every URL pattern, every role: who may use it (a table), and CSRF on every state change.

The URL walk fails when a new pattern appears that the table does not classify, so access
rules are decided for each new page rather than inherited by accident.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pytest
from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from insights.models import Suggestion
from knowledge.models import Article
from support import services as support_services
from support.models import Interaction
from tests.security.conftest import token_for

ROLES = ("anonymous", "customer", "agent", "editor", "reviewer", "admin")
STAFF = {"agent", "editor", "reviewer", "admin"}
EDITORS = {"editor", "reviewer", "admin"}
REVIEWERS = {"reviewer", "admin"}
EVERYONE = set(ROLES)
SIGNED_IN = EVERYONE - {"anonymous"}

# (route regex, roles allowed). First match wins. Everyone else must be denied: a redirect
# to a login page, 401, 403 or 404. "Allowed" means served (no denial and no 5xx).
TABLE: list[tuple[str, set[str]]] = [
    # Django admin: staff users with is_staff only (our admin role).
    (r"^admin/(login|logout)/$", EVERYONE),
    # Not pages: the catch-all 404, autocomplete without its parameters, the shortcut to
    # a model without a public URL; and the audit log is append-only (no add or delete).
    (r"^admin/(\(\?P<url>|autocomplete/|r/)", set()),
    (r"^admin/knowledge/auditlog/(add/|<path:object_id>/delete/)", set()),
    # The outbox is written by the support services only (admins read it and retry).
    (r"^admin/support/outgoingemail/add/", set()),
    # Articles are created and removed in the editor; revisions are read-only (issue 14).
    (r"^admin/knowledge/(article|revision)/(add/|<path:object_id>/delete/)", set()),
    (r"^admin/", {"admin"}),
    (r"^accounts/(login|logout)/$", EVERYONE),
    # After login: a redirect to the role's home (anonymous: the portal).
    (r"^accounts/home/$", EVERYONE),
    # Knowledge editor and insights: editor, reviewer, admin. Review queue: reviewers.
    (r"^editor/review/$", REVIEWERS),
    (r"^editor/", EDITORS),
    (r"^insights/", EDITORS),
    # Agent assist.
    (r"^agent/", STAFF),
    # REST API: public reads; the rest by role.
    (r"^api/(schema|docs)/$", EVERYONE),
    (r"^api/(search|ask|articles)$", EVERYONE),
    (r"^api/articles/<int:pk>$", EVERYONE),
    (r"^api/articles/<int:pk>/publish$", REVIEWERS),
    # Correcting a message's triage is for agents (customers never see the triage).
    (r"^api/conversations/<int:pk>/messages/<int:message_pk>/triage$", STAFF),
    (r"^api/conversations", SIGNED_IN),
    (r"^api/feedback$", SIGNED_IN),
    (r"^api/flags$", STAFF),
    (r"^api/token$", SIGNED_IN),
    (r"^\^api/\.\*\$$", set()),  # the JSON 404 catch-all: nobody is "served"
    # Answers belong to the session or user that asked: others get 404.
    (r"^ask/<int:pk>/", {"customer"}),
    (r"^widget/ask/<int:pk>/", set()),  # needs the signed token from the stream
    # "My requests": signed-in customers, their own threads only (others get 404).
    (r"^requests/$", SIGNED_IN),
    (r"^requests/<int:pk>/", {"customer"}),
    # The private thread link is the credential: whoever holds a valid one (forged: 404).
    (r"^t/<str:token>/", EVERYONE),
    # Portal readers rate an article (one vote per session).
    (r"^articles/<slug:slug>/feedback/$", EVERYONE),
    # The language switcher (Django's set_language): anyone, it only sets the language cookie.
    (r"^i18n/setlang/$", EVERYONE),
    # Customer portal and widget: public.
    (
        r"^(|categories/<slug:slug>/|articles/<slug:slug>/|search/|ask/|ask/stream/"
        r"|widget\.js|widget/frame/|widget/demo/|widget/ask/stream/)$",
        EVERYONE,
    ),
]


def walk(patterns, prefix: str = ""):
    """(route text, pattern) for every URL pattern, recursively."""
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern), p


def classify(route: str) -> set[str] | None:
    for regex, allowed in TABLE:
        if re.search(regex, route):
            return allowed
    return None


@dataclass
class World:
    article: Article
    conversation_id: int
    interaction_id: int
    suggestion_id: int


def _first_pk(model: type[Model] | None) -> str:
    if model is None:
        return "1"
    obj = model._default_manager.order_by("pk").first()
    return str(obj.pk) if obj else "1"


def fill(route: str, world: World) -> str:
    """A concrete path for a route, with parameters taken from existing objects."""
    path = route
    if path.startswith("^"):  # the API catch-all regex
        return "/api/no-such-endpoint"
    if path.startswith("admin/"):
        # Regex routes: the admin catch-all and the per-app index.
        path = path.replace("(?P<url>.*)$", "no-such-page/")
        path = re.sub(r"\(\?P<\w+>([\w]+)[^)]*\)", r"\1", path).replace("^", "").replace("$", "")
        m = re.match(r"admin/(\w+)/(\w+)/", path)
        if m and "<path:object_id>" in path:
            model = ContentType.objects.get_by_natural_key(m.group(1), m.group(2)).model_class()
            path = path.replace("<path:object_id>", _first_pk(model))
        path = path.replace("<id>", _first_pk(get_user_model()))
        path = path.replace(
            "<path:content_type_id>", str(ContentType.objects.get_for_model(Article).pk)
        ).replace("<path:object_id>", str(world.article.pk))
    if "<str:token>" in path:
        from support.models import Conversation
        from support.thread_links import thread_link_token

        conversation = Conversation.objects.get(pk=world.conversation_id)
        path = path.replace("<str:token>", thread_link_token(conversation))
    if path.startswith(("agent/conversations", "api/conversations", "requests/")):
        pk = world.conversation_id
    elif path.startswith(("ask/", "widget/ask/")):
        pk = world.interaction_id
    elif path.startswith("insights/"):
        pk = world.suggestion_id
    else:
        pk = world.article.pk
    if "<int:message_pk>" in path:  # the conversation's first customer message
        from support.models import Message

        message = Message.objects.filter(conversation_id=pk, role="customer").first()
        path = path.replace("<int:message_pk>", str(message.pk if message else 1))
    path = path.replace("<int:pk>", str(pk)).replace("<int:number>", "1")
    path = path.replace("<slug:action>", "submit")
    if path.startswith("categories/"):
        path = path.replace(
            "<slug:slug>", world.article.category.slug if world.article.category else ""
        )
    path = path.replace("<slug:slug>", world.article.slug)
    assert "<" not in path, f"unfilled parameter in {route}"
    return "/" + path


def denied(response) -> bool:
    if response.status_code in (401, 403, 404):
        return True
    location = response.get("Location", "")
    return response.status_code == 302 and ("/login/" in location)


@pytest.fixture
def world(seeded_kb, users) -> World:
    conversation = support_services.conversation_create(
        subject="My TV", body="It does not connect.", customer=users.customer, channel="portal"
    )
    customer = Client()
    customer.force_login(users.customer)
    customer.post("/ask/", {"q": "How do I reset my password?"})
    interaction = Interaction.objects.get(user=users.customer)
    suggestion = Suggestion.objects.create(
        kind="new_article", title="Refund timelines", signature="sig-1", score=1.0
    )
    return World(
        article=seeded_kb.public[0],
        conversation_id=conversation.pk,
        interaction_id=interaction.pk,
        suggestion_id=suggestion.pk,
    )


def _request(client: Client, path: str, world: World):
    """GET; a view that only takes POST gets a plausible POST (the role check must still run)."""
    response = client.get(path)
    if response.status_code == 405:
        data = {
            "article_id": world.article.pk,
            "reason": "outdated",
            "interaction_id": world.interaction_id,
            "helpful": True,
        }
        if path.startswith("/api/"):
            response = client.post(path, data, content_type="application/json")
        else:
            response = client.post(path, data)
    return response


@pytest.mark.django_db
def test_every_url_pattern_has_the_expected_access_per_role(world, users):
    routes = sorted({route for route, _ in walk(get_resolver().url_patterns)})
    unclassified = [r for r in routes if classify(r) is None]
    assert unclassified == [], f"classify these new URL patterns in TABLE: {unclassified}"

    problems = []
    checked = 0
    clients = {role: Client() for role in ROLES}
    for route in routes:
        allowed = classify(route)
        path = fill(route, world)
        for role in ROLES:
            client = clients[role]
            if role != "anonymous" and "_auth_user_id" not in client.session:
                client.force_login(getattr(users, role))  # again after a logout URL
            response = _request(client, path, world)
            checked += 1
            if response.status_code >= 500:
                problems.append(f"{role} {path}: {response.status_code}")
            elif role in allowed and denied(response):
                problems.append(f"{role} {path}: denied ({response.status_code}) but allowed")
            elif role not in allowed and not denied(response):
                problems.append(f"{role} {path}: served ({response.status_code}) but not allowed")
    print(f"\naccess table: {len(routes)} URL patterns x {len(ROLES)} roles = {checked} requests")
    assert problems == [], "\n".join(problems)


def test_table_flags_unknown_routes():
    assert classify("brand-new/secret/") is None
    assert classify("editor/articles/<int:pk>/") == EDITORS


# --- CSRF --------------------------------------------------------------------------------

# Cookie-less by design: the widget runs in third-party frames, acts as an anonymous user
# and proves ownership of an answer with a signed token (see support.views_portal).
CSRF_EXEMPT = {
    "widget/ask/stream/",
    "widget/ask/<int:pk>/feedback/",
    "widget/ask/<int:pk>/escalate/",
}


@pytest.mark.django_db
def test_every_state_changing_form_needs_a_csrf_token(world, users):
    routes = sorted({route for route, _ in walk(get_resolver().url_patterns)})
    checked = []
    failures = []
    for route in routes:
        if route in CSRF_EXEMPT or route in ("admin/logout/",):
            continue
        path = fill(route, world)
        # The admin passes every role check, so only the CSRF check can stop the POST.
        client = Client(enforce_csrf_checks=True)
        client.force_login(users.admin)
        response = client.post(path, {"q": "x", "title": "t", "body": "b"})
        if response.status_code == 405:
            continue  # GET-only page: nothing to change
        checked.append(route)
        if response.status_code != 403:
            failures.append(f"{path}: {response.status_code} without a CSRF token")
    # admin/logout/ changes the session: POST without a token must also be refused.
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.admin)
    assert client.post("/admin/logout/").status_code == 403
    # The middleware runs before the views, so even GET-only pages refuse a token-less POST.
    print(f"\nCSRF: token-less POSTs refused on {len(checked) + 1} URL patterns")
    assert failures == []
    assert len(checked) >= 30


@pytest.mark.django_db
def test_csrf_token_lets_a_real_form_through(world, users):
    """The control: the same POST with the token from the page succeeds."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.customer)
    page = client.get("/ask/")
    token = page.cookies["csrftoken"].value if "csrftoken" in page.cookies else None
    assert token, "the ask page sets a CSRF cookie"
    r = client.post("/ask/", {"q": "How do I reset my password?", "csrfmiddlewaretoken": token})
    assert r.status_code == 200


@pytest.mark.django_db
def test_widget_endpoints_ignore_cookies_and_need_the_signed_token(world, users):
    client = Client(enforce_csrf_checks=True)
    client.force_login(users.customer)
    pk = world.interaction_id
    assert client.post(f"/widget/ask/{pk}/feedback/", {"helpful": "yes"}).status_code == 404
    assert client.post(f"/widget/ask/{pk}/escalate/", {"note": "x"}).status_code == 404


@pytest.mark.django_db
def test_api_session_writes_need_csrf_but_token_writes_do_not(world, users):
    session = Client(enforce_csrf_checks=True)
    session.force_login(users.agent)
    body = {"article_id": world.article.pk, "reason": "outdated"}
    assert session.post("/api/flags", body, content_type="application/json").status_code == 403
    token = Client(enforce_csrf_checks=True, HTTP_AUTHORIZATION=f"Token {token_for(users.agent)}")
    assert token.post("/api/flags", body, content_type="application/json").status_code == 201
