"""After an accepted suggestion's article is published, its questions are asked again."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from insights.models import Suggestion
from insights.services import mine_logs, suggestion_accept
from knowledge import services as kb
from retrieval.services import index_rebuild
from tests.factories import make_article
from tests.insights.conftest import NOW, log_question

BODY = (
    "If your soundbar plays no sound over HDMI ARC, open Settings, then Sound, then Expert "
    "Settings, and set HDMI-eARC Mode to Auto. Then restart the soundbar."
)


@pytest.mark.django_db
def test_published_suggestion_answers_its_questions_after(client, editor, reviewer) -> None:
    make_article(
        author=reviewer, title="Picture modes", body="Choose Movie mode for films and Vivid for TV."
    )
    index_rebuild()
    for i, q in enumerate(["soundbar HDMI ARC no sound", "no sound from soundbar on HDMI ARC"]):
        log_question(q, session=f"s{i}", abstained=True, days_ago=2)
    mine_logs(now=NOW - dt.timedelta(days=1))
    suggestion = Suggestion.objects.get(kind="new_article")

    revision = suggestion_accept(
        suggestion=suggestion, user=editor, title="No sound from a soundbar on HDMI ARC", body=BODY
    )
    suggestion.refresh_from_db()
    before = suggestion.before_after["before"]
    assert [row["answered"] for row in before] == [False, False]
    assert "after" not in suggestion.before_after

    # Not published yet: the next mining run leaves it alone.
    mine_logs(now=NOW - dt.timedelta(hours=12))
    suggestion.refresh_from_db()
    assert "after" not in suggestion.before_after

    kb.revision_submit(revision=revision, submitted_by=editor)
    kb.revision_publish(revision=revision, published_by=reviewer)
    index_rebuild()
    run = mine_logs(now=NOW)
    assert run.counts["reruns"] == 1
    suggestion.refresh_from_db()
    after = suggestion.before_after["after"]
    assert [row["answered"] for row in after] == [True, True]
    assert all(row["cites_accepted_article"] for row in after)
    assert suggestion.before_after["published"] is True

    # The page shows both sides, and the button runs it again on demand.
    client.force_login(editor)
    url = reverse("insights:suggestion_detail", args=[suggestion.pk])
    page = client.get(url).content.decode()
    assert "not answered" in page and "cites the new revision" in page
    first_at = suggestion.before_after["after_at"]
    client.post(reverse("insights:suggestion_rerun", args=[suggestion.pk]))
    suggestion.refresh_from_db()
    assert suggestion.before_after["after_at"] >= first_at
    assert suggestion.before_after["after"][0]["answered"] is True
