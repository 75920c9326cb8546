"""Serving processes warm up at start; other commands do not."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from kb_platform import warmup
from retrieval import background
from retrieval import services as retrieval

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh(monkeypatch):
    monkeypatch.setattr(warmup, "_done", False)
    yield
    background.enable(False)


def test_warm_up_searches_once_and_moves_indexing_off_requests(fresh, settings, monkeypatch):
    settings.KB_WARMUP_ON_START = True
    settings.CELERY_TASK_ALWAYS_EAGER = True
    searches = []
    monkeypatch.setattr(retrieval, "search", lambda *a, **k: searches.append(a))
    assert warmup.warm_up() is not None
    assert warmup.warm_up() is None  # once per process
    assert len(searches) == 1
    assert background.enabled()


def test_warm_up_can_be_switched_off(fresh, settings, monkeypatch):
    settings.KB_WARMUP_ON_START = False
    monkeypatch.setattr(retrieval, "search", lambda *a, **k: pytest.fail("searched"))
    assert warmup.warm_up() is None
    assert not background.enabled()


def test_a_failed_warm_up_does_not_stop_the_server(fresh, settings, monkeypatch, caplog):
    settings.KB_WARMUP_ON_START = True

    def broken(*args, **kwargs):
        raise OSError("index folder unreadable")

    monkeypatch.setattr(retrieval, "search", broken)
    assert warmup.warm_up() is not None
    assert "warm-up search failed" in caplog.text


@pytest.mark.django_db
def test_warm_up_leaves_an_open_connection_of_its_caller_alone(fresh, settings, monkeypatch):
    from django.contrib.auth import get_user_model

    settings.KB_WARMUP_ON_START = True
    User = get_user_model()
    User.objects.create(username="before-warm-up")  # inside this test's transaction
    monkeypatch.setattr(retrieval, "search", lambda *a, **k: User.objects.count())
    warmup.warm_up()
    assert User.objects.filter(username="before-warm-up").exists()


@pytest.mark.parametrize(
    ("code", "warms"),
    [("import kb_platform.wsgi", True), ("import django; django.setup()", False)],
)
def test_only_the_wsgi_entry_point_warms_up(tmp_path, code, warms):
    env = {
        "PATH": "/usr/bin:/bin",
        "DJANGO_SETTINGS_MODULE": "kb_platform.settings",
        "KB_DEMO": "true",  # a per-install secret key in KB_VAR_DIR, as the demo makes
        "KB_VAR_DIR": str(tmp_path),
        "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        "EMBEDDING_BACKEND": "fake",
        "LOG_LEVEL": "INFO",
    }
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert ("warm-up done" in result.stderr) is warms
