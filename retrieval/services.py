"""Public entry points of retrieval: search, and keeping chunks and indexes in step with the KB.

Chunks and their embeddings live in the database (source of truth); the FAISS and BM25
indexes are versions in the index store derived from them (`retrieval.store`; FAISS + BM25).
Every writer holds the index lock around build + publish, so concurrent indexing in several
workers never corrupts or loses an update.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path

import numpy as np
from django.core.exceptions import ImproperlyConfigured

from knowledge.audience import Audience
from knowledge.models import Article, ArticleStatus
from retrieval import background, engine
from retrieval.chunk_rows import LEXICON_FILE as LEXICON_FILE  # where the lexicon is kept
from retrieval.chunk_rows import (
    article_embeddings,
    chunk_meta,
    embedding_bytes,
    fill_embeddings,
    live_articles,
    new_index_stats,
    normalize_lexicon,
    plan_article,
    write_chunks,
)
from retrieval.chunking import content_hash
from retrieval.conf import retrieval_conf
from retrieval.dense_index import IndexParams
from retrieval.embedding import (
    Embedder,
    embed_queries,
    get_embedder,
    get_multilingual_embedder,
    query_vector,
)
from retrieval.language import base_language, detect_configured
from retrieval.models import Chunk, TextEmbedding
from retrieval.snapshot import ChunkMeta, lexical_text
from retrieval.store import ChunkIndexStore, SearchableIndex, open_store
from retrieval.types import SearchResult
from retrieval.vocabulary import Vocabulary, kb_words

logger = logging.getLogger(__name__)

EMBED_BATCH_ARTICLES = 64


def index_params() -> IndexParams:
    """Index parameters from settings."""
    return retrieval_conf().index


def fusion_params() -> engine.FusionParams:
    conf = retrieval_conf()
    return engine.FusionParams(
        dense_weight=conf.search_dense_weight,
        spell_correction=conf.search_spell_correction,
        rescore_order=conf.rescore_order_model,
    )


def multilingual_params() -> engine.MultilingualParams:
    conf = retrieval_conf()
    return engine.MultilingualParams(
        dense_weight=conf.multilingual_dense_weight,
        same_language_boost=conf.multilingual_same_language_boost,
    )


def _store() -> ChunkIndexStore:
    conf = retrieval_conf()
    try:
        return open_store(conf.index_store, conf.index_dir, conf.index)
    except ValueError as exc:
        raise ImproperlyConfigured(f"INDEX_STORE: {exc}") from None


# -- search --------------------------------------------------------------------------------


def _live_articles(audience: str) -> Callable[[set[int]], dict[int, dict]]:
    """A check, at query time, that articles are still published and visible to `audience`."""

    def check(article_ids: set[int]) -> dict[int, dict]:
        qs = Article.objects.filter(
            pk__in=article_ids,
            status=ArticleStatus.PUBLISHED,
            published_revision__isnull=False,
        )
        if audience != Audience.INTERNAL:
            qs = qs.filter(visibility=Audience.PUBLIC)
        return {row["pk"]: dict(row) for row in qs.values("pk", "title", "slug", "visibility")}

    return check


def search(
    query: str,
    *,
    audience: str,
    top_k: int = 10,
    mode: str | None = None,
    snippets: bool = True,
    language: str | None = None,
) -> SearchResult:
    """Hybrid search over published chunks the audience may see ('public' or 'internal').

    mode: SEARCH_MODE by default ('hybrid+rescore'), or 'hybrid', 'dense', 'lexical',
    'hybrid+rerank'. snippets=False skips
    the highlighted snippets; `snippet_html` builds one for a hit that is shown.
    language: the question's language; detected from the text when None (issue 15).
    """
    conf = retrieval_conf()
    mode = mode or conf.search_mode
    if language is None:
        language = detect_configured(query if isinstance(query, str) else "").language
    language = base_language(language)
    store = _store()
    snapshot = store.current()
    # No index yet (fresh install, small KB): build it now rather than fail.
    if (
        snapshot is None
        and (query or "").strip()
        and Article.objects.filter(status=ArticleStatus.PUBLISHED).exists()
    ):
        snapshot = _ensure_index(store)
    embedder: Embedder | None = None
    if mode != "lexical" and snapshot is not None:
        embedder = get_embedder()
        if embedder.model_id != snapshot.model_id:
            # The embedding model changed since the index was built: vectors must never be
            # mixed, so this query runs lexically while the index is rebuilt.
            logger.warning(
                "index model %s != configured %s: rebuilding", snapshot.model_id, embedder.model_id
            )
            _enqueue_rebuild()
            snapshot = store.current()
    if embedder is not None:
        embedder = _CachedQueries(embedder)
    ml_embedder: Embedder | None = None
    if language != engine.ENGLISH and snapshot is not None:
        ml = get_multilingual_embedder()
        if ml is not None and ml.model_id == snapshot.ml_model_id:
            ml_embedder = _CachedQueries(ml)
        else:
            # This question runs without the leg while one rebuild adds it.
            add_missing_multilingual_leg(snapshot)
    reranker = engine.get_reranker(conf.reranker_model) if mode == "hybrid+rerank" else None
    return engine.search_snapshot(
        snapshot,
        query,
        audience=audience,
        top_k=top_k,
        mode=mode,
        embedder=embedder,
        fusion=fusion_params(),
        max_query_chars=conf.search_max_query_chars,
        reranker=reranker,
        allowed=_live_articles(audience),
        snippets=snippets,
        language=language,
        ml_embedder=ml_embedder,
        multilingual=multilingual_params(),
    )


_ml_rebuild_asked: set[str] = set()
# Full builds in this context leave the multilingual leg out (see english_only_builds).
_english_only_builds: ContextVar[bool] = ContextVar("english_only_builds", default=False)


@contextmanager
def english_only_builds() -> Iterator[None]:
    """Full index builds inside skip the multilingual leg; the serving process adds it in the
    background after it starts (`add_missing_multilingual_leg` from the warm-up).

    For `make demo`: e5 vectors for every chunk and KB word were about 190 of its 248 s of
    index build on a busy 2-core box, all of it before the portal could answer anything.
    """
    token = _english_only_builds.set(True)
    try:
        yield
    finally:
        _english_only_builds.reset(token)


def add_missing_multilingual_leg(snapshot: SearchableIndex | None = None) -> bool:
    """Ask for one rebuild (once per index version) when the multilingual embedder is
    configured and the current index has no vectors of it (an index built before the leg,
    with another model, or English-only on purpose). True when a rebuild was asked."""
    snapshot = snapshot if snapshot is not None else _store().current()
    if snapshot is None or snapshot.version in _ml_rebuild_asked:
        return False
    ml = get_multilingual_embedder()
    if ml is None or ml.model_id == snapshot.ml_model_id:
        return False
    _ml_rebuild_asked.add(snapshot.version)
    logger.warning(
        "index %s has no %s vectors: rebuilding to add them (until then non-English questions "
        "are searched without the multilingual leg)",
        snapshot.version,
        ml.model_id,
    )
    _enqueue_rebuild()
    return True


def snippet_html(text: str, query: str) -> str:
    """The escaped snippet of `text` around the query's terms, terms in <mark>."""
    return engine.highlight(text, query)


def _ensure_index(store: ChunkIndexStore) -> SearchableIndex | None:
    """Build the first index once, even when many requests arrive at the same time."""
    with store.write_lock():
        if store.current() is not None:  # another process built it while we waited
            return store.current()
    index_rebuild()
    return store.current()


class _CachedQueries:
    """The embedder as search sees it: single query texts go through the query-vector cache."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.model_id = embedder.model_id
        self.dimension = embedder.dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        if len(texts) == 1:
            return query_vector(self._embedder, texts[0])
        return self._embedder.embed(texts)

    def embed_query(self, texts: list[str]) -> np.ndarray:
        """The query side (e5's "query: " prefix), cached under its own model id."""
        if len(texts) == 1:
            return query_vector(_QuerySide(self._embedder), texts[0])
        return embed_queries(self._embedder, texts)


class _QuerySide:
    """An embedder's query side as an embedder, so the query-vector cache keys it apart."""

    def __init__(self, embedder: Embedder) -> None:
        self._embedder = embedder
        self.model_id = embedder.model_id + "#query"
        self.dimension = embedder.dimension

    def embed(self, texts: list[str]) -> np.ndarray:
        return embed_queries(self._embedder, texts)


def _enqueue_rebuild() -> None:
    # Off the request thread in the serving demo (a foreign question, or the warm-up, used
    # to run the whole multilingual build inline); a broker outage: the next search asks.
    background.enqueue("rebuild_index")


# -- rebuild and incremental updates --------------------------------------------------------


def _matrix(vectors: Sequence[bytes], dimension: int) -> np.ndarray:
    """Stored little-endian float32 blobs as one (n, dimension) matrix."""
    if not vectors:
        return np.zeros((0, dimension), dtype=np.float32)
    return np.frombuffer(b"".join(vectors), dtype="<f4").reshape(-1, dimension)


def index_rebuild(*, progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-chunk every live article, embed only new text, rebuild and publish the indexes.

    `progress(done, total)` is called after each batch of articles (for a progress bar).
    """
    started = time.perf_counter()
    store = _store()
    embedder = get_embedder()
    stats = new_index_stats()
    with store.write_lock():
        # Chunks of articles that are no longer live leave the database first.
        Chunk.objects.exclude(
            article__status=ArticleStatus.PUBLISHED, article__published_revision__isnull=False
        ).delete()
        ids = list(live_articles().values_list("pk", flat=True))
        total = len(ids)
        lexicon = normalize_lexicon(rebuild=True)
        metas: list[ChunkMeta] = []
        vectors: list[bytes] = []
        for i in range(0, total, EMBED_BATCH_ARTICLES):
            articles = list(live_articles().filter(pk__in=ids[i : i + EMBED_BATCH_ARTICLES]))
            plans = fill_embeddings([plan_article(a, lexicon) for a in articles], embedder, stats)
            for plan in plans:
                for chunk in write_chunks(plan, embedder.model_id):
                    metas.append(chunk_meta(chunk, plan.article))
                    vectors.append(embedding_bytes(chunk.embedding))
                stats["articles"] += 1
            if progress:
                progress(min(i + EMBED_BATCH_ARTICLES, total), total)
        # Failed articles keep no stale rows that a later rebuild could mistake for current.
        Chunk.objects.filter(article_id__in=stats["failed_articles"]).delete()
        texts = [lexical_text(m) for m in metas]
        ml_vectors, ml_model_id, ml_vocab = _multilingual_leg(texts)
        snapshot = store.build(
            chunks=metas,
            vectors=_matrix(vectors, embedder.dimension),
            lexical_texts=texts,
            model_id=embedder.model_id,
            dimension=embedder.dimension,
            ml_vectors=ml_vectors,
            ml_model_id=ml_model_id,
            ml_vocab=ml_vocab,
        )
        manifest = store.publish(snapshot)
    stats.update(
        chunks=len(metas),
        version=manifest["version"],
        index_kind=snapshot.index_kind,
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info("index rebuilt: %s", stats)
    return stats


def _replace_article(
    store: ChunkIndexStore,
    current: SearchableIndex,
    *,
    article_id: int,
    new: list[tuple[ChunkMeta, bytes]],
) -> None:
    metas = [m for m, _ in new]
    ml_vectors = None
    ml_embedder = get_multilingual_embedder()
    if ml_embedder is not None and current.ml_model_id == ml_embedder.model_id:
        # None when the model fails: this version is English-only (never stale).
        ml_vectors = _multilingual_vectors([lexical_text(m) for m in metas], ml_embedder)
    store.publish(
        store.replace_article(
            current,
            article_id=article_id,
            chunks=metas,
            vectors=_matrix([v for _, v in new], current.dimension),
            ml_vectors=ml_vectors,
        )
    )


def _multilingual_leg(
    texts: list[str],
) -> tuple[np.ndarray | None, str, Vocabulary | None]:
    """(vectors, model id, vocabulary) of the multilingual leg for a full build, or
    (None, "", None) when it is off or its model fails (English search unaffected)."""
    ml_embedder = get_multilingual_embedder()
    if ml_embedder is None or _english_only_builds.get():
        return None, "", None
    ml_vectors = _multilingual_vectors(texts, ml_embedder)
    if ml_vectors is None:
        return None, "", None
    words = kb_words(texts)
    word_vectors = _multilingual_vectors(words, ml_embedder, query_side=True)
    ml_vocab = Vocabulary(words, word_vectors) if word_vectors is not None else None
    return ml_vectors, ml_embedder.model_id, ml_vocab


def _multilingual_vectors(
    texts: list[str], embedder: Embedder, *, query_side: bool = False
) -> np.ndarray | None:
    """The multilingual leg's vector of each text: stored ones reused by content hash, the
    rest embedded in batches and stored. None (no multilingual leg in this version, English
    search unaffected) when the model fails. query_side: e5's "query:" vectors (the KB
    vocabulary), stored under the model id + "#query"."""
    model_id = embedder.model_id + ("#query" if query_side else "")
    hashes = [content_hash(t) for t in texts]
    known: dict[str, bytes] = {}
    unique = list(set(hashes))
    for i in range(0, len(unique), 500):
        rows = TextEmbedding.objects.filter(
            content_hash__in=unique[i : i + 500], model_id=model_id
        ).values_list("content_hash", "embedding")
        known.update({h: bytes(e) for h, e in rows})
    missing = {h: t for h, t in zip(hashes, texts, strict=True) if h not in known}
    items = list(missing.items())
    try:
        for i in range(0, len(items), EMBED_BATCH_ARTICLES):
            batch = items[i : i + EMBED_BATCH_ARTICLES]
            batch_texts = [t for _, t in batch]
            vectors = (
                embed_queries(embedder, batch_texts) if query_side else embedder.embed(batch_texts)
            )
            new = {h: v.astype("<f4").tobytes() for (h, _), v in zip(batch, vectors, strict=True)}
            TextEmbedding.objects.bulk_create(
                [
                    TextEmbedding(content_hash=h, model_id=model_id, embedding=b)
                    for h, b in new.items()
                ],
                ignore_conflicts=True,
            )
            known.update(new)
    except Exception:
        logger.exception("multilingual embedding failed: this index version is English-only")
        return None
    dim = embedder.dimension
    if not texts:
        return np.zeros((0, dim), dtype=np.float32)
    return np.frombuffer(b"".join(known[h] for h in hashes), dtype="<f4").reshape(-1, dim)


def article_index(*, article_id: int) -> None:
    """(Re)index one article after it was published or changed; unindexes it if not live."""
    store = _store()
    embedder = get_embedder()
    with store.write_lock():
        current = store.current()
        ml_embedder = get_multilingual_embedder()
        ml_model_id = ml_embedder.model_id if ml_embedder is not None else ""
        if (
            current is None
            or current.model_id != embedder.model_id
            # The multilingual leg switched on, off or to another model: one full build.
            or ((current.ml_model_id or ml_model_id) and current.ml_model_id != ml_model_id)
        ):
            needs_rebuild = True
        else:
            needs_rebuild = False
            article = live_articles().filter(pk=article_id).first()
            new: list[tuple[ChunkMeta, bytes]] = []
            if article is None:
                Chunk.objects.filter(article_id=article_id).delete()
            else:
                plans = fill_embeddings([plan_article(article)], embedder, new_index_stats())
                if not plans:
                    raise RuntimeError(f"embedding article {article_id} failed")
                for chunk in write_chunks(plans[0], embedder.model_id):
                    new.append((chunk_meta(chunk, article), embedding_bytes(chunk.embedding)))
            indexed = {c: m for c, m in current.chunks.items() if m.article_id == article_id}
            # Nothing changed (a re-announcement, a duplicate task): no new version.
            if indexed != {m.chunk_id: m for m, _ in new}:
                _replace_article(store, current, article_id=article_id, new=new)
    if needs_rebuild:
        # First index (or a new model): one full build, which includes this article.
        index_rebuild()


def article_unindex(*, article_id: int) -> None:
    """Remove an archived or deleted article's chunks from the database and the indexes."""
    store = _store()
    with store.write_lock():
        Chunk.objects.filter(article_id=article_id).delete()
        current = store.current()
        if current is None:
            return
        if any(m.article_id == article_id for m in current.chunks.values()):
            _replace_article(store, current, article_id=article_id, new=[])


def current_index_version() -> str:
    """The index version searches use now ("" before the first build): cheap, one stat."""
    snapshot = _store().current()
    return snapshot.version if snapshot is not None else ""


# Past this many drifted articles one full rebuild (which reuses every stored embedding) is
# cheaper than article-by-article index versions.
RECONCILE_REBUILD_ABOVE = 50


def index_drift() -> dict[str, list[int]]:
    """Articles whose indexed state differs from the database.

    Index tasks can be lost (broker down at publish time, a task that ran out of retries):
    this compares what the current index version holds with what is live now.
    """
    snapshot = _store().current()
    live = {
        row["pk"]: row
        for row in live_articles().values(
            "pk",
            "title",
            "slug",
            "visibility",
            "locale",
            "published_revision_id",
            "published_revision__title",
            "published_revision__body",
        )
    }
    # Revision ids and content hashes: a revision edited in place keeps its id.
    chunk_revisions: dict[int, set[tuple[int, str]]] = {}
    pairs = Chunk.objects.values_list("article_id", "revision_id", "source_hash").distinct()
    for article_id, revision_id, source in pairs:
        chunk_revisions.setdefault(article_id, set()).add((revision_id, source))
    indexed: dict[int, ChunkMeta] = {}
    if snapshot is not None:
        for chunk in snapshot.chunks.values():
            indexed.setdefault(chunk.article_id, chunk)
    to_index = []
    for pk, row in live.items():
        if not (row["published_revision__body"] or "").strip():
            continue  # nothing to index
        meta = indexed.get(pk)
        source = content_hash(
            f"{row['published_revision__title']}\n{row['published_revision__body']}"
        )
        current_chunks = chunk_revisions.get(pk) == {(row["published_revision_id"], source)}
        if (
            meta is None
            or not current_chunks
            or (meta.title, meta.slug, meta.visibility, meta.locale)
            != (row["title"], row["slug"], row["visibility"], base_language(row["locale"]) or "en")
        ):
            to_index.append(pk)
    to_remove = sorted(set(indexed) - set(live))
    return {"to_index": sorted(to_index), "to_remove": to_remove}


def index_reconcile() -> dict:
    """Bring the index up to date with the database after missed index tasks."""
    drift = index_drift()
    changed = len(drift["to_index"]) + len(drift["to_remove"])
    action = "none"
    if changed > RECONCILE_REBUILD_ABOVE or (changed and _store().current() is None):
        index_rebuild()
        action = "rebuild"
    elif changed:
        for article_id in drift["to_remove"]:
            article_unindex(article_id=article_id)
        for article_id in drift["to_index"]:
            article_index(article_id=article_id)
        action = "incremental"
    if changed:
        logger.warning("index drift repaired (%s): %s", action, drift)
    return {**drift, "action": action}


# -- backup and other readers ---------------------------------------------------------------


def index_export(dest: Path) -> dict | None:
    """Copy the published index version into the folder `dest`; its manifest, or None."""
    return _store().export_current(Path(dest))


def index_import(src: Path) -> str | None:
    """Make the index version exported into `src` current, if it fits this database.

    It fits when the configured embedding model built it and every chunk it holds exists;
    otherwise (or when `src` holds none) None, and the caller rebuilds from the database.
    """
    store = _store()
    with store.write_lock():
        snapshot = store.import_published(Path(src))
    if snapshot is None or snapshot.model_id != get_embedder().model_id:
        return None
    if not set(snapshot.chunks) <= set(Chunk.objects.values_list("pk", flat=True)):
        return None
    return snapshot.version


def article_vectors(*, articles: Sequence[Article], texts: Sequence[str]) -> tuple[np.ndarray, int]:
    """(one unit vector per article, how many came from stored chunks).

    The vector is the mean of the article's published chunks' stored embeddings, so a caller
    comparing articles does not re-embed the KB; articles without stored chunks are embedded
    from `texts`.
    """
    embedder = get_embedder()
    sums = article_embeddings(
        published={a.pk: a.published_revision_id for a in articles}, embedder=embedder
    )
    out = np.zeros((len(articles), embedder.dimension), dtype=np.float32)
    missing = [i for i, a in enumerate(articles) if a.pk not in sums]
    for i, a in enumerate(articles):
        if a.pk in sums:
            out[i] = sums[a.pk]
    if missing:
        out[missing] = embedder.embed([texts[i] for i in missing])
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return out / norms, len(articles) - len(missing)
