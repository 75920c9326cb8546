"""Without a broker, the serving process indexes on a background thread, not in the request."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from retrieval import background
from retrieval import services as retrieval
from retrieval.background import enqueue
from tests.factories import make_article

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def in_background(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    background.enable()
    yield
    background.wait()
    background.enable(False)


def test_enqueue_returns_at_once_and_the_task_runs_after(in_background, monkeypatch):
    release = threading.Event()
    done: list[int] = []

    def slow_index(*, article_id: int) -> None:
        release.wait(10)
        done.append(article_id)

    monkeypatch.setattr(retrieval, "article_index", slow_index)
    started = time.perf_counter()
    enqueue("index_article", 41)
    enqueue("index_article", 42)
    assert time.perf_counter() - started < 0.5
    assert done == []
    release.set()
    background.wait()
    assert done == [41, 42]  # one thread, in order


def test_a_failing_background_task_is_logged_not_raised(in_background, monkeypatch, caplog):
    def broken(*, article_id: int) -> None:
        raise RuntimeError("embedder exploded")

    monkeypatch.setattr(retrieval, "article_index", broken)
    enqueue("index_article", 7)
    background.wait()
    assert "background index_article failed" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_published_article_becomes_searchable_after_the_background_run(in_background, reviewer):
    make_article(author=reviewer, title="Pair the soundbar", body="Hold the pairing button.")
    background.wait()
    hits = retrieval.search("soundbar pairing", audience="public").hits
    assert hits and hits[0].title == "Pair the soundbar"


@pytest.mark.django_db(transaction=True)
def test_commands_and_tests_still_index_inline_by_default(settings, reviewer):
    assert not background.enabled()
    make_article(author=reviewer, title="Pair the soundbar", body="Hold the pairing button.")
    assert retrieval.search("soundbar pairing", audience="public").hits


def test_eager_tasks_log_no_broker_warning_and_no_task_lines(tmp_path):
    code = (
        "import django; django.setup()\n"
        "from kb_platform.celery import app\n"
        "@app.task(name='probe')\n"
        "def probe(): return 1\n"
        "print(probe.delay().get())\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "kb_platform.settings",
        "KB_DEMO": "true",  # a per-install secret key in KB_VAR_DIR, as the demo makes
        "KB_VAR_DIR": str(tmp_path),
        "LOG_LEVEL": "INFO",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "1"
    assert "No hostname was supplied" not in result.stderr
    assert "succeeded in" not in result.stderr
