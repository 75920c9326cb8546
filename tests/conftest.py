"""Fixtures shared by all tests: users per role, the Redis URL, and a real Celery worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.factories import UserFactory

REPO_ROOT = Path(__file__).resolve().parent.parent


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
