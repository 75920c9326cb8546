"""Faults end to end: the LLM server down, slow or speaking garbage; the broker down; the index
deleted or corrupted. Each time the product keeps answering and loses no edit, feedback or
interaction.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from generation.backends import circuit
from knowledge import services as knowledge
from knowledge.models import Article, AuditLog, Revision
from retrieval import index as index_module
from retrieval.services import search
from support.models import Feedback, Interaction
from tests.conftest import drop_cached_broker_pool
from tests.generation.fake_vllm import FakeVLLM
from tests.reliability.conftest import closed_port


@pytest.fixture
def llm_settings(settings):
    def point_at(base_url: str) -> None:
        circuit.reset_all()
        settings.LLM_BASE_URL = base_url
        settings.LLM_MODEL = "fake-model"
        settings.LLM_API_KEY = ""
        settings.LLM_TIMEOUT_SECONDS = 0.5
        settings.LLM_CONNECT_TIMEOUT_SECONDS = 0.3
        settings.LLM_MAX_RETRIES = 1
        settings.LLM_RETRY_BACKOFF_SECONDS = 0.01
        settings.LLM_CIRCUIT_FAILURES = 3
        settings.LLM_CIRCUIT_RESET_SECONDS = 30

    yield point_at
    circuit.reset_all()


@pytest.fixture
def fake_llm():
    server = FakeVLLM(model="fake-model", sleep_s=1.5).start()
    yield server
    server.stop()


def _ask_everywhere(staff) -> list[Interaction]:
    """Portal (non-JS and streamed) and API (JSON): each must answer and record the fallback."""
    question = "How do I reset my password?"
    portal = Client()
    portal.force_login(staff.customer)
    before = set(Interaction.objects.values_list("pk", flat=True))
    started = time.perf_counter()
    r = portal.post("/ask/", {"q": question})
    assert r.status_code == 200
    assert "Reset password" in r.content.decode() or "reset" in r.content.decode().lower()
    r = portal.post("/ask/stream/", {"q": question})
    assert r.status_code == 200
    stream = r.getvalue().decode()  # joins a streaming response's content
    assert "event: done" in stream and "event: error" not in stream
    api = Client()
    r = api.post("/api/ask", {"question": question}, content_type="application/json")
    assert r.status_code == 200
    body = r.json()
    assert body["text"] and not body["abstained"]
    assert "backend" not in body and "fallback_reason" not in body  # staff-only details
    assert time.perf_counter() - started < 20
    new = list(Interaction.objects.exclude(pk__in=before).order_by("pk"))
    assert len(new) == 3
    for interaction in new:
        assert interaction.answer_text
        assert interaction.fallback_reason, interaction.pk
        assert interaction.backend == "extractive"
    # Feedback on a fallback answer is kept.
    r = portal.post(f"/ask/{new[0].pk}/feedback/", {"helpful": "yes"})
    assert r.status_code in (200, 302)
    assert Feedback.objects.filter(interaction=new[0], helpful=True).exists()
    return new


@pytest.mark.django_db
def test_llm_server_down_answers_fall_back(small_kb, staff, llm_settings):
    llm_settings(f"http://127.0.0.1:{closed_port()}/v1")
    interactions = _ask_everywhere(staff)
    print(f"\nLLM down: fallback reasons {[i.fallback_reason for i in interactions]}")


@pytest.mark.django_db
@pytest.mark.parametrize("behaviour", ["garbage", "malformed", "503", "timeout"])
def test_llm_garbage_or_slow_answers_fall_back(small_kb, staff, llm_settings, fake_llm, behaviour):
    llm_settings(fake_llm.base_url)
    fake_llm.default = behaviour
    interactions = _ask_everywhere(staff)
    assert fake_llm.chat_requests, "the LLM was really tried"
    print(f"\nLLM {behaviour}: fallback reasons {[i.fallback_reason for i in interactions]}")


@pytest.mark.django_db
def test_llm_recovers_after_the_fault(small_kb, staff, llm_settings, fake_llm, settings):
    llm_settings(fake_llm.base_url)
    fake_llm.default = "garbage"
    r = Client().post("/api/ask", {"question": "How do I reset my password?"}, "application/json")
    assert Interaction.objects.get(pk=r.json()["interaction_id"]).fallback_reason
    fake_llm.default = "normal"
    circuit.reset_all()
    r = Client().post("/api/ask", {"question": "How do I reset my password?"}, "application/json")
    assert r.status_code == 200
    interaction = Interaction.objects.get(pk=r.json()["interaction_id"])
    assert interaction.backend != "extractive" and not interaction.fallback_reason


# --- Broker down ---------------------------------------------------------------------------


@pytest.fixture
def dead_broker(settings):
    """Celery pointed at a closed Redis port, not eager: every enqueue fails."""
    from kb_platform.celery import app as celery_app

    old = (celery_app.conf.task_always_eager, celery_app.conf.broker_url)
    url = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CELERY_BROKER_URL = url
    settings.CELERY_TASK_ALWAYS_EAGER = False
    celery_app.conf.task_always_eager = False
    celery_app.conf.broker_url = url
    drop_cached_broker_pool(celery_app)
    yield url
    celery_app.conf.task_always_eager, celery_app.conf.broker_url = old
    drop_cached_broker_pool(celery_app)


@pytest.mark.django_db
def test_publishing_with_the_broker_down_saves_and_the_index_catches_up(
    small_kb, staff, dead_broker, django_capture_on_commit_callbacks
):
    started = time.perf_counter()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        article = knowledge.article_create_published(
            title="Pair the soundbar",
            body="## Soundbar\n\nHold the pairing button of the soundbar for five seconds.",
            author=staff.reviewer,
        )
    assert callbacks, "publishing enqueued indexing after commit"
    elapsed = time.perf_counter() - started
    print(f"\nbroker down: publish returned after {elapsed:.2f}s")
    # The publish is saved, audited and live in the database although nothing was enqueued.
    article.refresh_from_db()
    assert article.status == "published" and article.published_revision_id
    assert AuditLog.objects.filter(target_id=str(article.pk), action="publish").exists()
    assert elapsed < 30, f"publishing blocked {elapsed:.1f}s on the dead broker"
    # An edit saved while the broker is down is kept too.
    with django_capture_on_commit_callbacks(execute=True):
        revision = knowledge.revision_save(
            article=small_kb.password,
            title="How to reset your password",
            body="Open Settings and press Reset password. The link is valid for 48 hours.",
            author=staff.editor,  # four eyes: the reviewer approves someone else's edit
            base_revision_id=small_kb.password.latest_revision_id,
        )
        knowledge.revision_publish(revision=revision, published_by=staff.reviewer)
    assert Revision.objects.filter(pk=revision.pk, state="published").exists()
    hits = search("soundbar pairing button", audience="public").hits
    assert all(h.article_id != article.pk for h in hits), "index not updated yet (no worker)"
    # Catch-up when the broker is back: the rebuild reconciles the index with the database.
    call_command("rebuild_index")
    hits = search("soundbar pairing button", audience="public").hits
    assert hits and hits[0].article_id == article.pk
    top = search("reset link valid hours", audience="public").hits[0]
    assert any("48 hours" in c.text for c in top.chunks)


# --- Index deleted or corrupted -------------------------------------------------------------


def _fresh_process_view() -> None:
    """Forget loaded snapshots, as a newly started web process would."""
    index_module._stores.clear()


def _current_version_dir(index_dir: Path) -> Path:
    manifest = json.loads((index_dir / "manifest.json").read_text())
    return index_dir / manifest["path"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    "damage",
    ["delete_dir", "delete_version", "garbage_manifest", "garbage_faiss", "garbage_chunks"],
)
def test_damaged_index_is_rebuilt_from_the_database_on_next_search(small_kb, settings, damage):
    index_dir = Path(settings.INDEX_DIR)
    before = search("reset password", audience="public")
    assert before.hits
    counts = (Article.objects.count(), Revision.objects.count())
    if damage == "delete_dir":
        shutil.rmtree(index_dir)
    elif damage == "delete_version":
        shutil.rmtree(index_dir / "versions")
    elif damage == "garbage_manifest":
        (index_dir / "manifest.json").write_text("{not json")
    elif damage == "garbage_faiss":
        (_current_version_dir(index_dir) / "dense_all.faiss").write_bytes(b"\x00garbage" * 10)
    elif damage == "garbage_chunks":
        (_current_version_dir(index_dir) / "chunks.json").write_text("[{]")
    _fresh_process_view()
    r = Client().get("/search/", {"q": "reset password"})
    assert r.status_code == 200
    assert "How to reset your password" in r.content.decode()
    after = search("reset password", audience="public")
    assert [h.article_id for h in after.hits][:1] == [small_kb.password.pk]
    assert (Article.objects.count(), Revision.objects.count()) == counts
    assert json.loads((index_dir / "manifest.json").read_text())["chunks"] >= 2


@pytest.mark.django_db
def test_interrupted_publish_leaves_the_previous_version_loadable(small_kb, settings):
    """A crashed writer leaves a .tmp folder: readers keep using the published version."""
    index_dir = Path(settings.INDEX_DIR)
    tmp = index_dir / "versions" / ".tmp-crashed-writer"
    tmp.mkdir()
    (tmp / "dense_all.faiss").write_bytes(b"half written")
    _fresh_process_view()
    hits = search("connect wifi network", audience="public").hits
    assert hits and hits[0].article_id == small_kb.wifi.pk


# --- Cache (Redis) down ---------------------------------------------------------------------


@pytest.fixture
def dead_cache(settings):
    """The cache (rate limits, mining lock) on a Redis that is not there."""
    # Django's setting_changed handler rebuilds the cache handlers for the new CACHES.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
        }
    }


@pytest.mark.django_db
def test_portal_and_api_keep_answering_when_the_cache_is_down(small_kb, staff, dead_cache):
    before = Interaction.objects.count()
    c = Client()
    r = c.get("/search/", {"q": "reset password"})
    assert r.status_code == 200 and "How to reset your password" in r.content.decode()
    r = c.post("/ask/", {"q": "How do I reset my password?"})
    assert r.status_code == 200
    r = c.post("/api/ask", {"question": "How do I reset my password?"}, "application/json")
    assert r.status_code == 200 and r.json()["text"]
    assert Interaction.objects.count() == before + 2
