"""Fixtures shared by all tests: users per role, the Redis URL, and a real Celery worker."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parent.parent

pytest_plugins = ["tests.ci_skips"]


@pytest.fixture(autouse=True, scope="session")
def _async_unsafe_not_leaked() -> Iterator[None]:
    """DJANGO_ALLOW_ASYNC_UNSAFE is for browser tests only (the chromium fixture scopes it)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    yield
    after = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    assert after == before, "a test set DJANGO_ALLOW_ASYNC_UNSAFE and did not restore it"


@pytest.fixture(autouse=True)
def _isolated_index_dir(settings, tmp_path_factory) -> None:
    """Each test gets its own index folder, so built indexes never leak between tests."""
    settings.INDEX_DIR = tmp_path_factory.mktemp("index")


@pytest.fixture
def customer(db):
    return UserFactory(username="carla_customer")


@pytest.fixture
def agent(db):
    return UserFactory(username="alex_agent", role="agent")


@pytest.fixture
def editor(db):
    return UserFactory(username="erin_editor", role="editor")


@pytest.fixture
def reviewer(db):
    return UserFactory(username="riley_reviewer", role="reviewer")


@pytest.fixture
def admin_user(db):
    user = UserFactory(username="ada_admin", role="admin")
    user.is_staff = True
    user.is_superuser = True
    user.save()
    return user


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium on PATH: the same test scripts/install-system-deps.sh makes."""
    return shutil.which("chromium")


@pytest.fixture
def chromium(monkeypatch) -> Iterator[Any]:
    """A headless Chromium (Playwright), closed after the test."""
    path = chromium_path()
    if path is None:
        pytest.skip("Chromium is not installed (make test-deps)")
    # Playwright's sync API runs an event loop in this thread; Django's ORM is still safe here.
    # Only for this test: monkeypatch restores the environment afterwards.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    from django.db import close_old_connections
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS, headless=True)
        # Django connections are per async context: one this context opened in an earlier
        # test may have died since (the PostgreSQL restart test). Replace it if so.
        close_old_connections()
        try:
            yield browser
        finally:
            browser.close()
            # Connections opened while Playwright's event loop runs live in that async
            # context, which pytest-django's teardown never sees: close them here, or one
            # stays open to test_kb and PostgreSQL refuses to drop the test database.
            from django.db import connections

            for conn in connections.all(initialized_only=True):
                if not conn.in_atomic_block:
                    conn.close()


@pytest.fixture
def screenshot_dir() -> Path:
    """Where browser tests save screenshots: test-artifacts/screenshots/ (ignored by git).

    `make screenshots` sets KB_SCREENSHOT_DIR=docs/screenshots to refresh the README's.
    """
    path = Path(os.environ.get("KB_SCREENSHOT_DIR") or REPO_ROOT / "test-artifacts" / "screenshots")
    if not path.is_absolute():
        path = REPO_ROOT / path
    path.mkdir(parents=True, exist_ok=True)
    return path


def celery_worker_command(name: str) -> list[str]:
    """A solo-pool `celery worker` for tests: one process, no peer chatter, named `name`."""
    return [
        sys.executable, "-m", "celery", "-A", "kb_platform", "worker", "-P", "solo",
        "-l", "info", "--without-heartbeat", "--without-gossip", "--without-mingle",
        "-n", f"{name}@%h",
    ]  # fmt: skip


def drop_cached_broker_pool(celery_app) -> None:
    """Forget producer pools made earlier, each bound to the broker URL of its time.

    Eager `delay()` calls still open a producer pool with the default (amqp) URL; without
    this the test process would publish there instead of to the test's Redis.
    """
    from kombu import pools

    # kombu keeps process-wide producer/connection pools keyed by broker URL: reset them all
    # (closing only the app's pool leaves kombu's registry handing out a closed pool).
    pools.reset()
    celery_app._pool = None
    amqp = celery_app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None


def _redis_url() -> str | None:
    return os.environ.get("TEST_REDIS_URL")


@pytest.fixture
def redis_url() -> str:
    url = _redis_url()
    if not url:
        pytest.skip("TEST_REDIS_URL is not set: run through `make test`, which starts Redis")
    return url


@pytest.fixture
def postgres_only(settings) -> None:
    if settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("needs PostgreSQL: run through `make test`")


@pytest.fixture
def celery_worker_process(transactional_db, settings, redis_url) -> Iterator[dict]:
    """A real `celery worker` process on Redis, sharing this test's database and index dir.

    Tasks enqueued by the test process (eager mode switched off) go through Redis to it.
    Yields the environment it runs with. Needs committed data: hence transactional_db.
    """
    from django.db import connection

    from kb_platform.celery import app as celery_app

    db_settings = connection.settings_dict
    if db_settings["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the Celery worker test needs PostgreSQL (run through `make test`)")
    database_url = (
        f"postgres://{db_settings['USER']}@{db_settings['HOST']}:{db_settings['PORT']}/"
        f"{db_settings['NAME']}"
    )
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "CELERY_BROKER_URL": redis_url,
            "INDEX_DIR": str(settings.INDEX_DIR),
            "EMBEDDING_BACKEND": settings.EMBEDDING_BACKEND,
            "PYTHONUNBUFFERED": "1",
        }
    )
    # Fresh queue: leftovers from an earlier test must not run against this database.
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    log_path = Path(str(settings.INDEX_DIR)) / "worker.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        celery_worker_command(f"test-{os.getpid()}"),
        cwd=REPO_ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    old = {
        "task_always_eager": celery_app.conf.task_always_eager,
        "broker_url": celery_app.conf.broker_url,
    }
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = redis_url
    drop_cached_broker_pool(celery_app)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "ready." in log_path.read_text():
                break
            if proc.poll() is not None:
                raise RuntimeError("celery worker exited early:\n" + log_path.read_text())
            time.sleep(0.2)
        else:
            raise RuntimeError("celery worker did not start:\n" + log_path.read_text())
        env["WORKER_LOG"] = str(log_path)
        yield env
    finally:
        celery_app.conf.task_always_eager = old["task_always_eager"]
        celery_app.conf.broker_url = old["broker_url"]
        # Drop the producer pool bound to Redis so later eager tests don't touch it.
        drop_cached_broker_pool(celery_app)
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
