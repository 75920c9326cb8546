"""Faults that need the real services (run through `make test`): a Celery worker killed in the
middle of a rebuild, and a PostgreSQL restart under a running web server."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from knowledge.models import Article, Revision
from retrieval import services
from retrieval.index import IndexStore
from retrieval.models import Chunk
from tests.conftest import REPO_ROOT, celery_worker_command, drop_cached_broker_pool
from tests.factories import UserFactory, make_article

pytestmark = pytest.mark.integration

LONG_BODY = "## Section\n\n" + " ".join(
    f"Step {i}: press the remote button and wait for the light." for i in range(250)
)


def _start_worker(env: dict, log_path: Path, name: str) -> subprocess.Popen:
    proc = subprocess.Popen(
        celery_worker_command(f"{name}-{os.getpid()}"),
        cwd=REPO_ROOT,
        env=env,
        stdout=log_path.open("w"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 60
    while "ready." not in log_path.read_text():
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError("worker did not start:\n" + log_path.read_text())
        time.sleep(0.2)
    return proc


def _bulk_published(n: int, start: int) -> list[int]:
    """Published articles written straight to the tables (no signals: the test enqueues)."""
    articles = Article.objects.bulk_create(
        [
            Article(title=f"Remote guide {i}", slug=f"remote-guide-{i}", status="published")
            for i in range(start, start + n)
        ]
    )
    revisions = Revision.objects.bulk_create(
        [
            Revision(
                article=a, number=1, title=a.title, body=f"{LONG_BODY} {a.slug}", state="published"
            )
            for a in articles
        ]
    )
    for a, r in zip(articles, revisions, strict=True):
        a.published_revision = r
        a.latest_revision = r
    Article.objects.bulk_update(articles, ["published_revision", "latest_revision"])
    return [a.pk for a in articles]


def test_worker_killed_mid_rebuild_keeps_the_index_and_the_task_is_retried(
    celery_worker_process, settings, tmp_path
):
    from kb_platform.celery import app as celery_app
    from retrieval.tasks import rebuild_index

    drop_cached_broker_pool(celery_app)
    first = _bulk_published(10, 0)
    services.index_rebuild()
    store = IndexStore(settings.INDEX_DIR, services.index_params())
    v1 = store.read_manifest()["version"]
    more = _bulk_published(300, 10)
    revisions_before = Revision.objects.count()

    rebuild_index.delay()
    # Wait until the worker is inside the rebuild (chunks of new articles being written).
    deadline = time.monotonic() + 60
    while not Chunk.objects.filter(article_id__in=more).exists():
        assert time.monotonic() < deadline, Path(celery_worker_process["WORKER_LOG"]).read_text()
        time.sleep(0.05)
    worker_pid = _worker_pid(celery_worker_process["WORKER_LOG"])
    os.kill(worker_pid, signal.SIGKILL)
    time.sleep(0.5)
    written = Chunk.objects.filter(article_id__in=more).values("article_id").distinct().count()
    assert written < len(more), "the rebuild finished before the kill: make it longer"

    # The published index is untouched: a fresh reader loads version 1 and searches it.
    assert store.read_manifest()["version"] == v1
    fresh = IndexStore(settings.INDEX_DIR, services.index_params())
    snapshot = fresh.current()
    assert snapshot.version == v1
    assert {m.article_id for m in snapshot.chunks.values()} == set(first)
    hits = services.search("remote button light", audience="public", top_k=5).hits
    assert hits and all(h.article_id in first for h in hits)

    # A new worker gets the unacknowledged task again (acks_late) and completes the index.
    env = dict(celery_worker_process, CELERY_VISIBILITY_TIMEOUT_SECONDS="2")
    log2 = tmp_path / "worker2.log"
    worker2 = _start_worker(env, log2, "test-second")
    try:
        deadline = time.monotonic() + 90
        while True:
            manifest = fresh.read_manifest()
            if manifest["version"] != v1:
                break
            assert time.monotonic() < deadline, log2.read_text()[-3000:]
            time.sleep(0.3)
        assert "retrieval.tasks.rebuild_index" in log2.read_text()
        snapshot = fresh.current()
        assert {m.article_id for m in snapshot.chunks.values()} == set(first) | set(more)
        assert Revision.objects.count() == revisions_before  # no edit lost
        print(
            f"\nworker kill: killed after {written}/{len(more)} new articles; "
            f"v1 kept serving; redelivered rebuild completed {len(snapshot.chunks)} chunks"
        )
    finally:
        worker2.terminate()
        try:
            worker2.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker2.kill()


def _worker_pid(log_path: str) -> int:
    """The solo worker executes tasks in its main process: the one the fixture started."""
    out = subprocess.run(
        ["pgrep", "-f", f"test-{os.getpid()}@"], capture_output=True, text=True, check=False
    )
    pids = [int(p) for p in out.stdout.split()]
    assert len(pids) == 1, (pids, Path(log_path).read_text()[-2000:])
    return pids[0]


# --- PostgreSQL restart ----------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _pg_ctl(*args: str) -> subprocess.CompletedProcess:
    pg_bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
    cmd = [str(pg_bin / "pg_ctl"), *args]
    if os.getuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    # No pipes: the restarted postmaster would inherit them and keep run() waiting forever.
    return subprocess.run(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def test_requests_recover_after_a_postgresql_restart(
    transactional_db, postgres_only, settings, tmp_path
):
    from django.db import connection

    data_dir = Path(os.environ.get("KB_TESTENV_DIR", "/tmp/kb-testenv")) / "pg"
    if not (data_dir / "postmaster.pid").exists():
        pytest.skip(f"no test cluster at {data_dir}: run through `make test`")
    author = UserFactory(username="pg_admin", role="admin")
    article = make_article(
        author=author,
        title="Reset the router",
        body="## Router\n\nHold the reset button of the router for ten seconds.",
    )
    services.index_rebuild()
    db = connection.settings_dict
    port = _free_port()
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        INDEX_DIR=str(settings.INDEX_DIR),
        EMBEDDING_BACKEND=settings.EMBEDDING_BACKEND,
        RATE_LIMIT_ASK_PER_MINUTE="1000",
        DATABASE_CONN_MAX_AGE="600",
    )
    log = tmp_path / "gunicorn.log"
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "kb_platform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            "1",
            "--timeout",
            "60",
        ],
        cwd=REPO_ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.3)

        def ask(text: str) -> httpx.Response:
            return httpx.post(f"{base}/api/ask", json={"question": text}, timeout=30)

        r = ask("How do I reset the router?")
        assert r.status_code == 200
        before_id = r.json()["interaction_id"]
        connection.close()  # this test's own connection: the restart drops it too
        result = _pg_ctl(
            "-D",
            str(data_dir),
            "-l",
            str(data_dir.parent / "pg.log"),
            "-m",
            "fast",
            "-w",
            "-t",
            "60",
            "restart",
        )
        assert result.returncode == 0, (data_dir.parent / "pg.log").read_text()[-2000:]
        # The first request after the restart reuses a dead persistent connection:
        # CONN_HEALTH_CHECKS must replace it instead of failing the request.
        statuses = []
        for _ in range(5):
            statuses.append(ask("How do I reset the router?").status_code)
            statuses.append(httpx.get(f"{base}/search/", params={"q": "router"}).status_code)
        assert statuses == [200] * 10, (statuses, log.read_text()[-3000:])
        from support.models import Interaction

        ids = set(Interaction.objects.values_list("pk", flat=True))
        assert before_id in ids and len(ids) == 6, "no interaction lost across the restart"
        assert Article.objects.filter(pk=article.pk, status="published").exists()
        print(f"\npostgres restart: 10/10 requests after the restart OK, {len(ids)} interactions")
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
