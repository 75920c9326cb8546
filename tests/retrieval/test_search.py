"""Search and indexing through the services, over the database, with the fake embedder."""

from __future__ import annotations

import numpy as np
import pytest

from knowledge import services as kb
from retrieval import embedding, services
from retrieval.index import IndexStore
from retrieval.models import Chunk
from tests.factories import make_article

pytestmark = pytest.mark.django_db


@pytest.fixture
def author(admin_user):
    return admin_user


def test_published_article_is_found_with_highlighted_snippet(author):
    make_article(
        author=author,
        title="Reset your router",
        body="## Steps\n\nUnplug the router, wait ten seconds and plug it back in.",
    )
    make_article(author=author, title="Billing cycles", body="Invoices are sent monthly.")
    services.index_rebuild()
    result = services.search("how do I reset the router", audience="public")
    assert result.hits, result
    top = result.hits[0]
    assert top.title == "Reset your router"
    assert "<mark>router</mark>" in top.snippet_html
    assert top.chunks[0].heading_path == "Steps"
    assert 0.0 <= result.confidence <= 1.0
    assert result.index_version


def test_first_search_builds_a_missing_index(author):
    make_article(author=author, title="Pairing the remote", body="Hold the two buttons.")
    assert IndexStore(services._store().root, services.index_params()).current() is None
    result = services.search("pair remote", audience="public")
    assert [h.title for h in result.hits] == ["Pairing the remote"]


@pytest.mark.parametrize("query", ["", "   \n\t "])
def test_empty_query_returns_no_hits(author, query):
    make_article(author=author)
    services.index_rebuild()
    result = services.search(query, audience="public")
    assert result.hits == [] and result.confidence == 0.0


def test_very_long_query_is_truncated_and_still_searches(author, settings):
    make_article(author=author, title="Reset your password", body="Open Settings, Reset.")
    services.index_rebuild()
    query = "reset password " + "lorem " * 5000
    result = services.search(query, audience="public")
    assert len(result.query) <= settings.SEARCH_MAX_QUERY_CHARS
    assert result.hits and result.hits[0].title == "Reset your password"


def test_bad_audience_or_mode_is_refused(author):
    with pytest.raises(ValueError, match="audience"):
        services.search("x", audience="everyone")
    with pytest.raises(ValueError, match="mode"):
        services.search("x", audience="public", mode="magic")


def _corpus(author, n_public: int = 6):
    for i in range(n_public):
        make_article(
            author=author,
            title=f"Printer guide {i}",
            body=f"The printer toner part {i}: replace the toner cartridge when faded.",
        )
    return make_article(
        author=author,
        title="Printer toner replacement secret procedure",
        body="Internal: printer toner replacement cartridge override code for agents.",
        visibility="internal",
    )


def test_internal_best_match_never_reaches_public_but_top_k_stays_full(author):
    internal = _corpus(author)
    services.index_rebuild()
    query = "printer toner replacement secret procedure override code"
    for mode in ("hybrid", "dense", "lexical", "hybrid+rerank"):
        public = services.search(query, audience="public", top_k=5, mode=mode)
        assert len(public.hits) == 5, mode
        assert internal.pk not in {h.article_id for h in public.hits}, mode
        assert all(h.visibility == "public" for h in public.hits)
        agent = services.search(query, audience="internal", top_k=5, mode=mode)
        assert agent.hits[0].article_id == internal.pk, mode


def test_archived_article_leaves_results_via_signals(author, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        article = make_article(author=author, title="Warranty terms", body="Two years.")
    assert services.search("warranty", audience="public").hits[0].article_id == article.pk
    with django_capture_on_commit_callbacks(execute=True):
        kb.article_archive(article=article, archived_by=author)
    assert services.search("warranty", audience="public").hits == []
    assert not Chunk.objects.filter(article=article).exists()


def test_visibility_change_to_internal_hides_article_from_public(
    author, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        article = make_article(author=author, title="Refund policy", body="Refunds in 30 days.")
    with django_capture_on_commit_callbacks(execute=True):
        kb.article_update_metadata(article=article, updated_by=author, visibility="internal")
    assert services.search("refund policy", audience="public").hits == []
    assert services.search("refund policy", audience="internal").hits[0].visibility == "internal"


def test_stale_index_is_still_filtered_by_database_state(author):
    article = make_article(author=author, title="Holiday hours", body="Closed on Sunday.")
    services.index_rebuild()
    # Archived without its signal (as if the worker had not caught up yet).
    type(article).objects.filter(pk=article.pk).update(status="archived")
    assert services.search("holiday hours", audience="public").hits == []


def test_snippet_escapes_article_html(author):
    make_article(
        author=author,
        title="Script article",
        body='Router tip: <script>alert("x")</script> <img src=x onerror=alert(1)> router',
    )
    services.index_rebuild()
    hit = services.search("router", audience="public").hits[0]
    assert "<script>" not in hit.snippet_html and "<img" not in hit.snippet_html
    assert "&lt;script&gt;" in hit.snippet_html
    assert "<mark>Router</mark>" in hit.snippet_html
    assert "<mark>" in hit.chunks[0].snippet_html


def test_rebuild_reuses_stored_embeddings_for_unchanged_text(author):
    make_article(author=author, title="Alpha", body="First article text.")
    make_article(author=author, title="Beta", body="Second article text.")
    first = services.index_rebuild()
    assert first["embedded"] == 2 and first["reused"] == 0
    stored = dict(Chunk.objects.values_list("content_hash", "embedding"))
    second = services.index_rebuild()
    assert second["embedded"] == 0 and second["reused"] == 2
    assert second["version"] != first["version"]
    assert {h: bytes(e) for h, e in Chunk.objects.values_list("content_hash", "embedding")} == {
        h: bytes(e) for h, e in stored.items()
    }


def test_changed_model_id_re_embeds_everything(author, settings):
    make_article(author=author, title="Alpha", body="First article text.")
    services.index_rebuild()
    settings.EMBEDDING_MODEL = "some-other-model"
    new_id = embedding.get_embedder().model_id
    # A search notices the model change and rebuilds (tasks run eagerly in tests).
    result = services.search("first article", audience="public")
    assert result.hits
    assert set(Chunk.objects.values_list("embedding_model_id", flat=True)) == {new_id}
    assert services._store().current().model_id == new_id
    again = services.index_rebuild()
    assert again["embedded"] == 0


def test_incremental_index_touches_only_the_changed_article(
    author, django_capture_on_commit_callbacks
):
    other = make_article(author=author, title="Stable article", body="Never changes.")
    article = make_article(author=author, title="Changing article", body="Old text.")
    services.index_rebuild()
    other_chunks = list(Chunk.objects.filter(article=other).values_list("pk", flat=True))
    before = services._store().current().version
    revision = kb.revision_save(
        article=article,
        title="Changing article",
        body="Brand new paragraph about satellites.",
        author=author,
        base_revision_id=article.latest_revision_id,
    )
    with django_capture_on_commit_callbacks(execute=True):
        kb.revision_publish(revision=revision, published_by=author, self_review=True)
    snapshot = services._store().current()
    assert snapshot.version != before
    assert list(Chunk.objects.filter(article=other).values_list("pk", flat=True)) == other_chunks
    assert services.search("satellites", audience="public").hits[0].article_id == article.pk
    assert "Old text." not in {m.text for m in snapshot.chunks.values()}


def test_reindexing_an_unchanged_or_unknown_article_publishes_nothing(author):
    article = make_article(author=author, title="Stable", body="Same text.")
    services.index_rebuild()
    before = services._store().current().version
    services.article_index(article_id=article.pk)
    services.article_index(article_id=999_999)
    services.article_unindex(article_id=999_999)
    assert services._store().current().version == before


class _PoisonEmbedder(embedding.FakeEmbedder):
    """Fails on any batch containing the word POISON (as a broken input would)."""

    def embed(self, texts):
        if any("POISON" in t for t in texts):
            raise RuntimeError("cannot embed this text")
        return super().embed(texts)


def test_one_bad_article_does_not_block_a_rebuild(author, monkeypatch):
    monkeypatch.setattr(embedding, "_build_embedder", lambda *a: _PoisonEmbedder(name="poison"))
    monkeypatch.setattr(embedding, "_cache", {})
    good = make_article(author=author, title="Good article", body="Fine text.")
    bad = make_article(author=author, title="Bad article", body="POISON text.")
    stats = services.index_rebuild()
    assert stats["failed_articles"] == [bad.pk]
    assert stats["chunks"] == 1
    assert services.search("good article", audience="public").hits[0].article_id == good.pk


def test_hybrid_is_at_least_as_good_as_each_method_on_a_tiny_set(author):
    from retrieval import engine, evaluation

    corpus = [
        {"id": "pw", "title": "Password reset", "text": "Reset a forgotten password by email."},
        {"id": "wifi", "title": "Wireless network", "text": "Join the office wireless network."},
        {"id": "vpn", "title": "VPN access", "text": "Install the VPN client for remote work."},
        {"id": "print", "title": "Printing", "text": "Send documents to the printer queue."},
        {"id": "mail", "title": "Mailbox quota", "text": "Archive old email to free space."},
    ]
    queries = [
        {"id": "q1", "text": "pasword resett"},  # typos: only character trigrams match
        {"id": "q2", "text": "VPN"},
        {"id": "q3", "text": "printer documents queue"},
        {"id": "q4", "text": "wireless network office"},
    ]
    qrels = {"q1": {"pw": 2}, "q2": {"vpn": 2}, "q3": {"print": 2}, "q4": {"wifi": 2}}
    dataset = evaluation.Dataset("tiny", corpus, queries, qrels)
    report = evaluation.evaluate(
        dataset, embedding.FakeEmbedder(), fusion=engine.FusionParams(dense_weight=0.5)
    )
    modes = report["modes"]
    for metric in ("ndcg@10", "recall@5", "mrr@10"):
        assert modes["hybrid"][metric] >= modes["lexical"][metric], metric
        assert modes["hybrid"][metric] >= modes["dense"][metric], metric
    assert modes["hybrid"]["recall@1"] == 1.0
    assert np.isclose(modes["hybrid+rerank"]["ndcg@10"], modes["hybrid"]["ndcg@10"])


@pytest.mark.django_db(transaction=True)
def test_concurrent_index_writers_lose_no_update(admin_user):
    import threading

    from django.db import connection

    first = make_article(author=admin_user, title="Seed article", body="Seed.")
    services.index_rebuild()
    articles = [
        make_article(author=admin_user, title=f"Concurrent topic {i}", body=f"Body number {i}.")
        for i in range(4)
    ]
    errors = []

    def index(article_id: int) -> None:
        try:
            services.article_index(article_id=article_id)
        except Exception as exc:  # surfaced below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=index, args=(a.pk,)) for a in articles]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors
    indexed = {m.article_id for m in services._store().current().chunks.values()}
    assert indexed == {first.pk, *(a.pk for a in articles)}


def test_unloadable_reranker_falls_back_to_hybrid_and_says_so(author, settings):
    settings.RERANKER_MODEL = "/nonexistent/cross-encoder"
    make_article(author=author, title="Reset your router", body="Unplug the router.")
    services.index_rebuild()
    result = services.search("router", audience="public", mode="hybrid+rerank")
    assert result.mode == "hybrid"
    assert result.hits[0].title == "Reset your router"


def test_snippet_window_is_the_one_with_most_query_terms():
    from retrieval.engine import highlight

    filler = " ".join(f"word{i}" for i in range(60))
    text = f"Reset once here. {filler} Reset the password, then reset the router password. {filler}"
    snippet = highlight(text, "reset password", max_chars=120)
    # The dense cluster late in the text wins over the lone early match.
    assert snippet.startswith("…") and snippet.endswith("…")
    assert snippet.count("<mark>") == 4
    assert "Reset once" not in snippet
    # Short texts are shown whole, every match marked, markup escaped.
    assert highlight("Reset <b>now</b>", "reset") == "<mark>Reset</mark> &lt;b&gt;now&lt;/b&gt;"
