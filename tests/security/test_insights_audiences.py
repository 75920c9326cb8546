"""Insights never moves internal text into a public draft silently (issue 14, item 4)."""

from __future__ import annotations

import pytest
from django.test import Client

from insights.models import Suggestion
from insights.services import mine_logs, suggestion_accept
from retrieval.services import index_rebuild
from tests.factories import make_article
from tests.insights.conftest import NOW, log_question

pytestmark = pytest.mark.django_db

BODY = "Open Settings, choose General, then Reset. Enter your PIN 0000 and confirm."


def test_no_merge_between_a_public_and_an_internal_article(reviewer, settings):
    settings.INSIGHTS_MERGE_THRESHOLD = 0.8
    make_article(author=reviewer, title="Reset the TV", body=BODY)
    make_article(
        author=reviewer,
        title="Reset your TV",
        body=BODY + " Staff: the master PIN is HERON-4471.",
        visibility="internal",
    )
    # The control: two public near-duplicates do become a merge suggestion.
    make_article(author=reviewer, title="Reset a TV", body=BODY + " The TV restarts.")
    index_rebuild()
    mine_logs(now=NOW)
    merges = list(Suggestion.objects.filter(kind="merge"))
    assert merges, "the control: public near-duplicates are still merged"
    for merge in merges:
        assert merge.target_article.visibility == merge.other_article.visibility
        assert "HERON-4471" not in merge.draft_body


def test_a_draft_built_from_agents_replies_starts_internal(editor):
    reply = "Hold Power for 10 s, then use the service menu code HERON-4471."
    log_question("soundbar HDMI ARC no sound", session="a", escalated=True, agent_reply=reply)
    log_question("My soundbar has no sound over HDMI ARC", session="b", abstained=True)
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.evidence.get("agent_replies")
    revision = suggestion_accept(suggestion=suggestion, user=editor)
    assert revision.article.visibility == "internal"
    # The evidence shows each item's audience.
    c = Client()
    c.force_login(editor)
    page = c.get(f"/insights/suggestions/{suggestion.pk}/").content.decode()
    assert 'badge internal">internal' in page and 'badge public">public' in page
