"""Mining: question clusters become ranked new-article suggestions, disliked or flagged
articles become update suggestions, near-duplicates become merge suggestions."""

from __future__ import annotations

import datetime as dt

import pytest

from insights.models import MiningRun, Suggestion, SuggestionStatus
from insights.selectors import LoggedQuestion
from insights.services import cluster_score, mine_logs, suggestion_dismiss, update_impact
from retrieval.services import index_rebuild
from tests.factories import make_article
from tests.insights.conftest import NOW, flag_article, log_question

SOUNDBAR = [
    "My soundbar has no sound over HDMI ARC",
    "soundbar HDMI ARC no sound",
    "No sound from soundbar connected with HDMI ARC",
    "Soundbar connected by HDMI ARC plays no sound",
]
WIFI = ["How do I reset the wifi password", "reset wifi password on the TV"]


def _new_article(**filters):
    return Suggestion.objects.filter(kind="new_article", **filters)


@pytest.mark.django_db
def test_unanswered_questions_cluster_into_ranked_suggestions() -> None:
    for i, q in enumerate(SOUNDBAR):
        log_question(q, session=f"s{i}", abstained=i % 2 == 0, escalated=i % 2 == 1)
    for i, q in enumerate(WIFI):
        log_question(q, session=f"w{i}", abstained=True, days_ago=3)
    log_question("What is the warranty period", session="lonely", abstained=True)
    # Answered and liked: not a gap.
    log_question("How do I change the picture mode", session="ok1", helpful=True)
    log_question("How do I change the picture mode please", session="ok2", helpful=True)

    run = mine_logs(now=NOW)

    assert run.status == MiningRun.Status.DONE
    suggestions = list(_new_article().order_by("-score"))
    assert [s.cluster_size for s in suggestions] == [4, 2]
    soundbar, wifi = suggestions
    assert soundbar.score > wifi.score
    assert {q["text"] for q in soundbar.evidence["questions"]} == set(SOUNDBAR)
    assert soundbar.evidence["stats"]["abstained"] == 2
    assert soundbar.evidence["stats"]["escalated"] == 2
    assert "warranty" not in " ".join(s.title.lower() for s in suggestions)
    assert run.counts["created"] == 2


@pytest.mark.django_db
def test_personal_data_is_redacted_before_it_reaches_a_suggestion() -> None:
    log_question(
        "Soundbar HDMI ARC no sound, call me on +1 555 123 4567", session="a", abstained=True
    )
    log_question("soundbar HDMI ARC no sound, I am jane@example.com", session="b", abstained=True)
    log_question(
        "Soundbar HDMI ARC no sound? Ring +1 555 123 4567 or jane@example.com",
        session="c",
        abstained=True,
    )
    mine_logs(now=NOW)
    suggestion = _new_article().get()
    dumped = str(suggestion.evidence) + suggestion.title + suggestion.draft_body
    assert "555 123 4567" not in dumped and "jane@example.com" not in dumped
    assert "[PHONE]" in dumped and "[EMAIL]" in dumped


def _q(asker: str, days_ago: float, abstained: bool = True) -> LoggedQuestion:
    return LoggedQuestion(
        id=hash((asker, days_ago)),
        question="q",
        created_at=NOW - dt.timedelta(days=days_ago),
        asker=asker,
        audience="public",
        abstained=abstained,
        escalated=False,
        disliked=not abstained,
    )


def test_ranking_counts_distinct_askers_recency_and_signal() -> None:
    one_asker_many_times = [_q("a", 0), _q("a", 0.1), _q("a", 0.2), _q("a", 0.3)]
    two_askers = [_q("a", 0), _q("b", 0)]
    assert cluster_score(two_askers, now=NOW, half_life_days=14) == pytest.approx(2.0)
    assert cluster_score(one_asker_many_times, now=NOW, half_life_days=14) == pytest.approx(1.0)
    old = [_q("a", 28), _q("b", 28)]
    assert cluster_score(old, now=NOW, half_life_days=14) == pytest.approx(0.5)
    only_disliked = [_q("a", 0, abstained=False), _q("b", 0, abstained=False)]
    assert cluster_score(only_disliked, now=NOW, half_life_days=14) == pytest.approx(1.0)


def test_update_impact_formula() -> None:
    impact, rate = update_impact(citing=8, negative=5, age_days=0)
    assert rate == pytest.approx(0.5)
    assert impact == pytest.approx(4.0)
    older, _ = update_impact(citing=8, negative=5, age_days=90)
    assert older == pytest.approx(8.0)
    capped, _ = update_impact(citing=8, negative=5, age_days=5000)
    assert capped == pytest.approx(4.0 * (1 + 365 / 90))
    assert update_impact(citing=0, negative=0, age_days=10)[0] == 0


@pytest.mark.django_db
def test_dismissed_cluster_stays_dismissed_until_it_grows(editor) -> None:
    for i, q in enumerate(SOUNDBAR[:2]):
        log_question(q, session=f"s{i}", abstained=True, days_ago=5)
    mine_logs(now=NOW - dt.timedelta(days=4))
    suggestion = _new_article().get()
    suggestion_dismiss(suggestion=suggestion, user=editor, reason="Known issue, fix coming")
    suggestion.refresh_from_db()
    assert suggestion.size_at_dismissal == 2

    # One more customer: 3 < 2 x 2, so it stays dismissed and no duplicate appears.
    log_question(SOUNDBAR[2], session="s2", abstained=True, days_ago=2)
    run = mine_logs(now=NOW - dt.timedelta(days=1))
    assert run.counts["clusters_kept_dismissed"] == 1
    assert _new_article().count() == 1
    assert _new_article().get().status == SuggestionStatus.DISMISSED

    # It doubles: back in the queue, same suggestion, saying why.
    log_question(SOUNDBAR[3], session="s3", abstained=True, days_ago=0.5)
    log_question(SOUNDBAR[0], session="s4", abstained=True, days_ago=0.5)
    run = mine_logs(now=NOW)
    assert run.counts["reopened"] == 1
    suggestion = _new_article().get()
    assert suggestion.status == SuggestionStatus.OPEN
    assert suggestion.cluster_size == 5
    assert "Re-opened" in suggestion.rationale


@pytest.mark.django_db
def test_each_run_only_touches_what_is_new() -> None:
    for i, q in enumerate(WIFI):
        log_question(q, session=f"w{i}", abstained=True, days_ago=2)
    first = mine_logs(now=NOW - dt.timedelta(days=1))
    assert first.since is None and first.counts["created"] == 1
    second = mine_logs(now=NOW)
    assert second.since == first.started_at
    assert second.counts["new_interactions"] == 0
    assert "created" not in second.counts and "updated" not in second.counts
    log_question("wifi password reset how", session="w9", abstained=True, days_ago=0.1)
    third = mine_logs(now=NOW + dt.timedelta(hours=1))
    assert third.counts["updated"] == 1
    assert _new_article().get().cluster_size == 3
    # Questions outside the window are not read at all.
    far = mine_logs(now=NOW + dt.timedelta(days=200))
    assert far.counts["interactions_in_window"] == 0


@pytest.mark.django_db
def test_disliked_and_flagged_articles_become_update_suggestions(reviewer) -> None:
    bad = make_article(author=reviewer, title="Pair the remote", body="Hold the Home button.")
    fine = make_article(author=reviewer, title="Picture modes", body="Choose Movie mode.")
    for i in range(3):
        log_question(
            f"remote pairing fails {i}",
            session=f"r{i}",
            helpful=False,
            cited=[bad],
            comment="Did not work for my remote",
        )
    log_question("remote pairing", session="r9", helpful=True, cited=[bad])
    log_question("picture mode", session="p1", helpful=False, cited=[fine])  # one is noise
    for i in range(3):
        log_question(f"picture {i}", session=f"p{i + 2}", helpful=True, cited=[fine])
    flagged = make_article(author=reviewer, title="Firmware update", body="Use USB.")
    flag_article(flagged, comment="Steps changed in the 2026 firmware")

    mine_logs(now=NOW)

    updates = list(Suggestion.objects.filter(kind="update_article").order_by("-score"))
    assert [s.target_article for s in updates] == [bad, flagged]
    top = updates[0]
    assert top.evidence["stats"]["answers_citing"] == 4
    assert top.evidence["stats"]["negative_answers"] == 3
    assert top.evidence["feedback_comments"][0]["text"] == "Did not work for my remote"
    assert "Hold the Home button." in top.draft_body  # the edit starts from the current text
    assert updates[1].evidence["flags"][0]["text"] == "Steps changed in the 2026 firmware"


@pytest.mark.django_db
def test_near_duplicate_articles_become_merge_suggestions(reviewer, settings) -> None:
    settings.INSIGHTS_MERGE_THRESHOLD = 0.8
    body = "Open Settings, choose General, then Reset. Enter your PIN 0000 and confirm."
    a = make_article(author=reviewer, title="Reset the TV", body=body)
    b = make_article(author=reviewer, title="Reset your TV", body=body + " The TV restarts.")
    make_article(author=reviewer, title="Picture modes", body="Choose Movie mode for films.")
    index_rebuild()  # stored chunk vectors are reused, not recomputed
    run = mine_logs(now=NOW)
    assert run.counts["article_vectors_reused"] == 3
    assert run.counts["article_vectors_embedded"] == 0
    merge = Suggestion.objects.get(kind="merge")
    assert (merge.target_article, merge.other_article) == (a, b)
    assert merge.score >= 0.8
    assert "The TV restarts." in merge.draft_body
    assert merge.draft_body.count("Enter your PIN 0000") == 1


@pytest.mark.django_db
def test_update_suggestion_points_at_gap_clusters_its_questions_belong_to(reviewer) -> None:
    wrong = make_article(author=reviewer, title="Game mode", body="Turn on Game Mode.")
    for i, q in enumerate(SOUNDBAR):
        log_question(q, session=f"s{i}", helpful=False, cited=[wrong])
    mine_logs(now=NOW)
    gap = Suggestion.objects.get(kind="new_article")
    update = Suggestion.objects.get(kind="update_article")
    assert update.evidence["related_suggestions"] == [gap.pk]
    assert update.evidence["stats"]["negative_in_new_article_suggestions"] == 4
    assert "may be cited for a topic it does not cover" in update.rationale


@pytest.mark.django_db
def test_merge_mining_embeds_articles_that_have_no_stored_vectors(reviewer, settings) -> None:
    settings.INSIGHTS_MERGE_THRESHOLD = 0.8
    body = "Open Settings, choose General, then Reset. Enter your PIN 0000 and confirm."
    make_article(author=reviewer, title="Reset the TV", body=body)
    make_article(author=reviewer, title="Reset your TV", body=body)
    run = mine_logs(now=NOW)  # no index built: nothing stored to reuse
    assert run.counts["article_vectors_embedded"] == 2
    assert Suggestion.objects.filter(kind="merge").count() == 1
