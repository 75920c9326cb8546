"""The newcomer path: load_demo builds the index once, quietly; the final banner."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command

from retrieval import services as retrieval

pytestmark = pytest.mark.django_db


def test_load_demo_builds_the_index_once_and_draws_no_bars_off_a_terminal(tmp_path, monkeypatch):
    calls = []
    real = retrieval.index_rebuild

    def counting_rebuild(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(retrieval, "index_rebuild", counting_rebuild)
    err = StringIO()  # not a terminal, as in CI or `make demo > log`
    call_command(
        "load_demo", "--corpus", str(tmp_path / "none.jsonl"), stdout=StringIO(), stderr=err
    )
    assert len(calls) == 1
    assert "article/s" not in err.getvalue() and "Importing:" not in err.getvalue()
    assert retrieval.search("reset", audience="public").hits


def test_load_demo_no_index_builds_none(tmp_path, monkeypatch):
    calls = []
    monkeypatch.setattr(retrieval, "index_rebuild", lambda *a, **k: calls.append(1))
    call_command(
        "load_demo", "--no-index", "--corpus", str(tmp_path / "none.jsonl"),
        stdout=StringIO(), stderr=StringIO(),
    )  # fmt: skip
    assert calls == []


def test_load_demo_prints_the_logins_unless_told_not_to(tmp_path):
    corpus = str(tmp_path / "none.jsonl")
    out = StringIO()
    call_command("load_demo", "--no-index", "--corpus", corpus, stdout=out, stderr=StringIO())
    assert "customer-demo-pass" in out.getvalue()
    out = StringIO()
    call_command(
        "load_demo", "--no-index", "--no-logins", "--corpus", corpus,
        stdout=out, stderr=StringIO(),
    )  # fmt: skip
    assert "demo-pass" not in out.getvalue() and "Demo logins" not in out.getvalue()


def test_demo_banner_lists_every_face_and_login():
    out = StringIO()
    call_command("demo_banner", "--url", "http://127.0.0.1:8123", stdout=out)
    text = out.getvalue()
    for path in ("/", "/agent/", "/editor/", "/insights/", "/api/docs/", "/admin/"):
        assert f"http://127.0.0.1:8123{path}" in text
    for user in ("admin", "editor", "reviewer", "agent", "customer"):
        assert f"{user}-demo-pass" in text


def test_demo_setup_runs_the_steps_in_one_process(tmp_path, monkeypatch):
    import django.core.management as management

    from insights.management.commands import demo_setup
    from retrieval import services as retrieval

    ran: list[tuple[str, ...]] = []
    english_only: list[bool] = []

    def fake_call(name, *a, **k):
        ran.append((name, *a))
        english_only.append(retrieval._english_only_builds.get())

    monkeypatch.setattr(demo_setup, "call_command", fake_call)
    dataset = tmp_path / "ds"
    dataset.mkdir()
    management.call_command("demo_setup", "--dataset", str(dataset), stdout=StringIO())
    # No queries.jsonl: no logs to seed, so load_demo indexes; its logins wait for the banner.
    assert ran == [("load_demo", "--no-logins")]
    # The build before serving is English-only: the server adds the multilingual leg.
    assert english_only == [True] and not retrieval._english_only_builds.get()
    (dataset / "queries.jsonl").write_text("{}\n")
    ran.clear()
    management.call_command("demo_setup", "--dataset", str(dataset), stdout=StringIO())
    assert [step[0] for step in ran] == ["load_demo", "seed_demo_logs", "mine_logs"]
    assert english_only[-3:] == [True, True, False]  # mining builds nothing
    # One index build: seed_demo_logs' (after withholding), not load_demo's as well.
    assert "--no-index" in ran[0]


def test_demo_setup_rerun_with_logs_keeps_load_demos_index_build(tmp_path, monkeypatch, agent):
    """Logs already seeded (a second `make demo`): seed_demo_logs does nothing, so load_demo
    must build the index itself."""
    import django.core.management as management

    from insights.management.commands import demo_setup
    from support.models import Interaction

    Interaction.objects.create(question="q", answer_text="a", user=agent)
    ran: list[tuple[str, ...]] = []
    monkeypatch.setattr(demo_setup, "call_command", lambda name, *a, **k: ran.append((name, *a)))
    dataset = tmp_path / "ds"
    dataset.mkdir()
    (dataset / "queries.jsonl").write_text("{}\n")
    management.call_command("demo_setup", "--dataset", str(dataset), stdout=StringIO())
    assert ran[0] == ("load_demo", "--no-logins")
