"""Customer portal: public content only, search, ask (streamed and not), feedback, escalation."""

from __future__ import annotations

import pytest
from django.test import Client

from support.models import Conversation, Feedback, Interaction, Message, SearchLog
from tests.support.conftest import sse_events

pytestmark = pytest.mark.django_db


def test_home_lists_categories_and_popular_public_articles(client, kb):
    response = client.get("/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "How to reset your password" in html
    assert "Account" in html and "Television" in html
    assert "zebracode" not in html


def test_article_page_renders_published_markdown(client, kb):
    response = client.get(f"/articles/{kb.password.slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<strong>Settings</strong>" in html
    assert kb.password.view_count.views == 1


@pytest.mark.parametrize("which", ["internal", "draft"])
def test_internal_and_draft_articles_are_404_on_portal_even_for_staff(
    client, kb, admin_user, which
):
    article = getattr(kb, which)
    assert client.get(f"/articles/{article.slug}/").status_code == 404
    client.force_login(admin_user)
    assert client.get(f"/articles/{article.slug}/").status_code == 404


def test_search_without_js_highlights_and_logs(client, kb):
    response = client.get("/search/", {"q": "reset password"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "How to reset your password" in html
    assert "<mark>" in html
    log = SearchLog.objects.get()
    assert log.query == "reset password" and log.results_count >= 1
    assert log.top_article == kb.password


def test_search_never_shows_internal_articles_even_to_admins(client, kb, admin_user):
    client.force_login(admin_user)
    response = client.get("/search/", {"q": "zebracode refund override"})
    assert response.status_code == 200
    assert "zebracode" not in response.content.decode().replace("zebracode refund override", "")
    assert "Refund override" not in response.content.decode()


def test_search_as_you_type_returns_fragment(client, kb):
    response = client.get("/search/", {"q": "wifi network"}, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert "Connect your TV to Wi-Fi" in html


def test_search_paginates(client, kb, admin_user):
    from tests.factories import make_article

    for i in range(12):
        make_article(author=admin_user, title=f"Password topic {i}", body=f"password help {i}")
    from retrieval.services import index_rebuild

    index_rebuild()
    page1 = client.get("/search/", {"q": "password"}).content.decode()
    assert "Page 1 of 2" in page1
    page2 = client.get("/search/", {"q": "password", "page": 2}).content.decode()
    assert "Page 2 of 2" in page2
    # The htmx fragment (also shown on the home page) links to the search page itself.
    fragment = client.get("/search/", {"q": "password"}, HTTP_HX_REQUEST="true").content.decode()
    assert 'href="/search/?q=password&amp;page=2"' in fragment


def test_search_rejects_overlong_query(client, kb):
    response = client.get("/search/", {"q": "x" * 600})
    assert response.status_code == 400
    assert "too long" in response.content.decode()


def test_ask_without_js_renders_cited_answer_and_records_interaction(client, kb, admin_user):
    client.force_login(admin_user)  # staff still get the public-only portal answer
    response = client.post("/ask/", {"q": "How do I reset my password?"})
    assert response.status_code == 200
    html = response.content.decode()
    interaction = Interaction.objects.get()
    assert interaction.channel == "portal" and interaction.audience == "public"
    assert not interaction.abstained
    assert f"/articles/{kb.password.slug}/" in html
    assert kb.password in interaction.cited_articles.all()
    assert interaction.citations[0]["article_id"] == kb.password.pk
    assert "Was this helpful?" in html and "Talk to a person" in html


def test_portal_answer_never_cites_internal_articles(client, kb, admin_user):
    client.force_login(admin_user)
    client.post("/ask/", {"q": "How do agents override a refund with zebracode?"})
    interaction = Interaction.objects.get()
    assert kb.internal not in interaction.cited_articles.all()
    assert "zebracode escalation form" not in interaction.answer_text
    assert all(h["article_id"] != kb.internal.pk for h in interaction.hits)


def test_ask_rejects_empty_and_oversized_questions(client, kb, settings):
    assert client.post("/ask/", {"q": "   "}).status_code == 400
    response = client.post("/ask/", {"q": "x" * (settings.KB_MAX_QUESTION_CHARS + 1)})
    assert response.status_code == 400
    assert "limit" in response.content.decode()
    assert not Interaction.objects.exists()


def test_ask_stream_emits_meta_tokens_done(client, kb):
    response = client.post("/ask/stream/", {"q": "How do I reset my password?"})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    events = sse_events(response)
    names = [name for name, _ in events]
    assert names[0] == "meta" and names[-1] == "done"
    assert "token" in names
    streamed = "".join(d["text"] for n, d in events if n == "token")
    done = events[-1][1]
    assert streamed.strip() and done["answer"]["text"].startswith(streamed.strip()[:20])
    assert done["answer"]["citations"][0]["url"] == f"/articles/{kb.password.slug}/"
    interaction = Interaction.objects.get(pk=done["interaction_id"])
    assert interaction.session_key == client.session.session_key


def test_ask_stream_bad_question_is_json_400(client, kb):
    response = client.post("/ask/stream/", {"q": ""})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid"


def test_abstention_shows_not_found_and_escalate_offer(client, kb, settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 1.01  # nothing is confident enough: abstain
    response = client.post("/ask/", {"q": "quantum chromodynamics lattice gauge theory"})
    html = response.content.decode()
    interaction = Interaction.objects.get()
    assert interaction.abstained
    assert "Talk to a person" in html
    from html import unescape

    assert interaction.answer_text.strip() and interaction.answer_text in unescape(html)
    assert "Our support team can help with this." in html
    assert "These articles may be close" in html


def test_feedback_and_escalation_create_conversation_with_question_answer_citations(client, kb):
    client.post("/ask/", {"q": "How do I reset my password?"})
    interaction = Interaction.objects.get()
    response = client.post(f"/ask/{interaction.pk}/feedback/", {"helpful": "no", "comment": "meh"})
    assert response.status_code == 302
    feedback = Feedback.objects.get()
    assert feedback.helpful is False and feedback.comment == "meh"
    response = client.post(
        f"/ask/{interaction.pk}/escalate/",
        {"name": "Carla", "email": "carla@example.com", "note": "The link expired"},
    )
    assert response.status_code == 200
    conversation = Conversation.objects.get()
    interaction.refresh_from_db()
    assert interaction.escalated and interaction.conversation == conversation
    assert conversation.source_interaction == interaction
    # One thread: the question, the bot's answer, the note; the agent's summary is internal.
    bodies = [m.body for m in conversation.messages.filter(internal=False)]
    assert bodies == ["How do I reset my password?", interaction.answer_text, "The link expired"]
    summary = conversation.messages.get(role=Message.Role.SYSTEM, internal=True).body
    assert summary.count(f"/articles/{kb.password.slug}/") == 1  # one line per article
    assert "customer said not helpful" in summary
    assert conversation.status == "waiting_agent"
    assert conversation.handoff_reason == "negative_feedback"
    assert conversation.handoff_summary in summary


def test_escalation_validates_email(client, kb):
    client.post("/ask/", {"q": "How do I reset my password?"})
    interaction = Interaction.objects.get()
    response = client.post(
        f"/ask/{interaction.pk}/escalate/", {"name": "Carla", "email": "not-an-email"}
    )
    assert response.status_code == 400
    assert not Conversation.objects.exclude(status="bot").exists()  # not handed off


def test_other_sessions_cannot_rate_or_escalate_an_answer(client, kb):
    client.post("/ask/", {"q": "How do I reset my password?"})
    interaction = Interaction.objects.get()
    other = Client()
    assert other.get(f"/ask/{interaction.pk}/").status_code == 404
    assert other.post(f"/ask/{interaction.pk}/feedback/", {"helpful": "yes"}).status_code == 404
    assert not Feedback.objects.exists()


def test_rate_limit_on_ask_returns_429_with_retry_after(client, kb, settings):
    settings.RATE_LIMIT_ASK_PER_MINUTE = 2
    for _ in range(2):
        assert client.post("/ask/", {"q": "reset password"}).status_code == 200
    response = client.post("/ask/", {"q": "reset password"})
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    assert "Too many requests" in response.content.decode()
    stream = client.post("/ask/stream/", {"q": "reset password"})
    assert stream.status_code == 429 and stream.json()["error"]["code"] == "throttled"
    assert Interaction.objects.count() == 2


def test_rate_limit_on_search_is_per_client(client, kb, settings):
    settings.RATE_LIMIT_SEARCH_PER_MINUTE = 1
    assert client.get("/search/", {"q": "wifi"}).status_code == 200
    assert client.get("/search/", {"q": "wifi"}).status_code == 429
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert other.get("/search/", {"q": "wifi"}).status_code == 200


def test_widget_script_frame_and_demo(client, kb):
    script = client.get("/widget.js")
    assert script.status_code == 200
    assert "javascript" in script["Content-Type"]
    assert b"/widget/frame/" in b"".join(script.streaming_content)
    frame = client.get("/widget/frame/")
    assert frame.status_code == 200 and "X-Frame-Options" not in frame
    assert 'src="/widget.js"' in client.get("/widget/demo/").content.decode()


def test_widget_stream_is_anonymous_and_feedback_needs_signed_token(client, kb, admin_user):
    client.force_login(admin_user)
    response = client.post("/widget/ask/stream/", {"q": "How do I reset my password?"})
    done = sse_events(response)[-1][1]
    interaction = Interaction.objects.get(pk=done["interaction_id"])
    assert interaction.channel == "widget" and interaction.user is None
    bad = client.post(done["feedback_url"], {"helpful": "yes", "token": "forged"})
    assert bad.status_code == 404
    good = client.post(done["feedback_url"], {"helpful": "yes", "token": done["token"]})
    assert good.status_code == 200
    esc = client.post(
        done["escalate_url"],
        {"name": "W", "email": "w@example.com", "token": done["token"]},
    )
    assert esc.json()["ok"] is True
    assert Conversation.objects.get().channel == "widget"


def test_popular_articles_rank_cited_then_viewed(client, kb):
    from support.selectors import popular_articles

    client.get(f"/articles/{kb.wifi.slug}/")
    assert popular_articles()[0] == kb.wifi  # most viewed, nothing cited yet
    interaction = Interaction.objects.create(question="q")
    interaction.cited_articles.add(kb.password)
    assert popular_articles()[0] == kb.password  # cited beats viewed
    assert kb.internal not in popular_articles()


def test_every_search_page_gets_highlighted_snippets_built_for_that_page_only(
    client, kb, reviewer, monkeypatch
):
    """Snippets are highlighted lazily: the ones shown, on whichever page, and no others."""
    from retrieval import services as retrieval_services
    from retrieval.services import index_rebuild
    from tests.factories import make_article

    for n in range(14):
        make_article(
            author=reviewer,
            title=f"Remote control guide {n}",
            body=f"Pair the remote control with the TV, step {n}: hold Back and Play.",
        )
    index_rebuild()
    built = []
    real = retrieval_services.snippet_html

    def counting(text, query):
        built.append(text)
        return real(text, query)

    monkeypatch.setattr(retrieval_services, "snippet_html", counting)
    first = client.get("/search/", {"q": "pair remote control"}).content.decode()
    assert first.count('<li class="result">') == 10
    assert first.count('<p class="snippet">') == 10 and "<mark>pair</mark>" in first.lower()
    assert len(built) == 10  # not the 4+ results of page two
    second = client.get("/search/", {"q": "pair remote control", "page": 2}).content.decode()
    shown = second.count('<li class="result">')
    assert shown >= 4 and second.count('<p class="snippet">') == shown
    assert "<mark>" in second
