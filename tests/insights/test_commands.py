"""manage.py mine_logs / seed_demo_logs and the Celery task, on a tiny hand-made dataset."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from insights.demo_logs import choose_withheld, load_dataset
from insights.models import MiningRun, Suggestion
from insights.tasks import mine_logs as mine_logs_task
from knowledge.models import Article
from support.models import Conversation, Interaction
from tests.insights.conftest import log_question

# A made-up five-article manual: nothing here comes from the eval datasets.
CORPUS = [
    (
        "doc_pair",
        "Pair the remote",
        "Point the remote at the TV. Hold Back and Play for 3 seconds.",
    ),
    ("doc_sound", "Soundbar over HDMI ARC", "Set HDMI-eARC Mode to Auto in Expert Settings."),
    ("doc_wifi", "Connect to Wi-Fi", "Open Network Settings and pick your wireless network."),
    ("doc_pic", "Picture modes", "Choose Movie mode for films and Standard for daytime TV."),
    ("doc_app", "Install apps", "Open Apps, search for the app and select Install."),
]
QUERIES = [
    ("q1", "remote pairing steps", "doc_pair"),
    ("q2", "how to pair my remote control", "doc_pair"),
    ("q3", "soundbar hdmi arc no sound", "doc_sound"),
    ("q4", "no audio from soundbar over hdmi arc", "doc_sound"),
    ("q5", "connect the tv to wifi", "doc_wifi"),
    ("q6", "best picture mode for films", "doc_pic"),
]


@pytest.fixture
def mini_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "mini"
    root.mkdir()
    (root / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"id": i, "title": t, "text": b}) for i, t, b in CORPUS)
    )
    (root / "queries.jsonl").write_text(
        "\n".join(json.dumps({"id": q, "text": t}) for q, t, _ in QUERIES)
    )
    (root / "qrels.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "".join(f"{q}\t{g}\t2\n" for q, _, g in QUERIES)
    )
    (root / "answers.jsonl").write_text(
        "\n".join(json.dumps({"id": q, "answer": f"Agent answer for {t}."}) for q, t, _ in QUERIES)
    )
    return root


def test_dataset_loading_and_withheld_choice(mini_dataset: Path) -> None:
    ds = load_dataset(mini_dataset)
    assert ds.gold["q1"] == ["doc_pair"]
    # Only articles with two or more questions can be withheld (something must cluster).
    assert choose_withheld(ds, 5) == ["doc_pair", "doc_sound"]
    assert choose_withheld(ds, 1, seed=1) == choose_withheld(ds, 1, seed=1)


@pytest.mark.django_db
def test_seed_demo_logs_withholds_articles_and_logs_gaps(mini_dataset: Path) -> None:
    out = StringIO()
    call_command(
        "seed_demo_logs",
        dataset=str(mini_dataset),
        withhold=1,
        no_progress=True,
        stdout=out,
    )
    withheld = Article.objects.filter(status="archived")
    assert withheld.count() == 1
    assert Article.objects.filter(status="published").count() == 4
    gold = withheld.get().external_id
    gap_questions = [t for _, t, g in QUERIES if g == gold]
    gaps = Interaction.objects.filter(question__iregex="|".join(gap_questions))
    assert gaps.count() == 2 * 3  # every gap question asked by three customers
    assert all(
        i.abstained or i.escalated or i.feedback.filter(helpful=False).exists() for i in gaps
    )
    # Escalated gaps carry the agent's reply (the dataset's reference answer).
    assert (
        Conversation.objects.filter(messages__role="agent").exists()
        == gaps.filter(escalated=True).exists()
    )
    assert "Logged" in out.getvalue()

    call_command("mine_logs", quiet_progress=True, stdout=out)
    assert "Mining run" in out.getvalue()
    top = Suggestion.objects.filter(kind="new_article").order_by("-score").first()
    assert top is not None
    assert top.title.lower().rstrip("?") in [q.lower() for q in gap_questions]


@pytest.mark.django_db
def test_seed_demo_logs_if_empty_does_not_log_twice(mini_dataset: Path) -> None:
    call_command("seed_demo_logs", dataset=str(mini_dataset), withhold=1, no_progress=True)
    logged = Interaction.objects.count()
    assert logged > 0
    out = StringIO()
    call_command(
        "seed_demo_logs",
        dataset=str(mini_dataset),
        withhold=1,
        no_progress=True,
        if_empty=True,
        stdout=out,
    )
    assert Interaction.objects.count() == logged
    assert "not seeding demo logs again" in out.getvalue()


def test_seed_demo_logs_rejects_a_folder_that_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match=r"missing corpus\.jsonl"):
        call_command("seed_demo_logs", dataset=str(tmp_path), no_progress=True)


@pytest.mark.django_db
def test_celery_task_runs_a_mining_run() -> None:
    now = timezone.now()
    log_question("wifi keeps dropping", session="a", abstained=True, now=now)
    log_question("wifi keeps dropping out", session="b", abstained=True, now=now)
    outcome = mine_logs_task.delay().get()
    assert outcome["status"] == "done"
    assert MiningRun.objects.get(pk=outcome["run"]).counts["negative_questions"] == 2


@pytest.mark.django_db
def test_only_one_mining_run_at_a_time() -> None:
    from django.core.cache import cache

    from insights.services import MINING_LOCK_KEY, MiningInProgress, mine_logs

    cache.add(MINING_LOCK_KEY, "2026-01-01T00:00:00", timeout=60)
    try:
        with pytest.raises(MiningInProgress, match="in progress"):
            mine_logs()
        assert mine_logs_task.delay().get()["status"] == "skipped"
        with pytest.raises(CommandError, match="in progress"):
            call_command("mine_logs", quiet_progress=True)
        assert not MiningRun.objects.exists()
    finally:
        cache.delete(MINING_LOCK_KEY)
    assert mine_logs().status == MiningRun.Status.DONE  # the lock is released after a run
    assert cache.get(MINING_LOCK_KEY) is None
