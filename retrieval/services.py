"""Public entry points of retrieval: search, and keeping chunks and indexes in step with the KB.

Chunks and their embeddings live in the database (source of truth); the FAISS and BM25
indexes are a versioned artifact under INDEX_DIR derived from them (see `retrieval.index`).
Every writer holds the index lock around build + publish, so concurrent indexing in several
workers never corrupts or loses an update.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from django.conf import settings
from django.db import transaction

from knowledge.models import Article, ArticleStatus, Revision, Visibility
from knowledge.normalize import Lexicon, build_lexicon, normalize_body
from retrieval import engine
from retrieval.chunking import chunk_embedding_text, chunk_markdown, content_hash
from retrieval.embedding import Embedder, get_embedder, get_multilingual_embedder, query_vector
from retrieval.index import (
    ChunkMeta,
    IndexParams,
    IndexStore,
    Snapshot,
    build_locale_lexical,
    build_snapshot,
    get_store,
)
from retrieval.language import base_language, detect_configured
from retrieval.models import Chunk, TextEmbedding
from retrieval.types import SearchResult
from retrieval.vocabulary import Vocabulary, kb_words

logger = logging.getLogger(__name__)

EMBED_BATCH_ARTICLES = 64


def index_params() -> IndexParams:
    """Index parameters from settings."""
    return IndexParams(
        ann_threshold=settings.INDEX_ANN_THRESHOLD,
        ann_kind=settings.INDEX_ANN_KIND,
        hnsw_m=settings.INDEX_HNSW_M,
        hnsw_ef_search=settings.INDEX_HNSW_EF_SEARCH,
        ivf_nprobe=settings.INDEX_IVF_NPROBE,
        use_gpu=settings.INDEX_USE_GPU,
        keep_versions=settings.INDEX_KEEP_VERSIONS,
        search_threads=settings.INDEX_SEARCH_THREADS,
    )


def fusion_params() -> engine.FusionParams:
    return engine.FusionParams(dense_weight=settings.SEARCH_DENSE_WEIGHT)


def multilingual_params() -> engine.MultilingualParams:
    return engine.MultilingualParams(
        dense_weight=settings.MULTILINGUAL_DENSE_WEIGHT,
        same_language_boost=settings.MULTILINGUAL_SAME_LANGUAGE_BOOST,
    )


def _store() -> IndexStore:
    return get_store(settings.INDEX_DIR, index_params())


# -- search --------------------------------------------------------------------------------


def _live_articles(audience: str) -> Callable[[set[int]], dict[int, dict]]:
    """A check, at query time, that articles are still published and visible to `audience`."""

    def check(article_ids: set[int]) -> dict[int, dict]:
        qs = Article.objects.filter(
            pk__in=article_ids,
            status=ArticleStatus.PUBLISHED,
            published_revision__isnull=False,
        )
        if audience != "internal":
            qs = qs.filter(visibility=Visibility.PUBLIC)
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
    mode = mode or settings.SEARCH_MODE
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
        elif ml is not None and snapshot.version not in _ml_rebuild_asked:
            # An index from before the multilingual leg (or another model): this question
            # runs without it while one rebuild (asked once per version) adds it.
            _ml_rebuild_asked.add(snapshot.version)
            logger.warning("index %s has no %s vectors: rebuilding", snapshot.version, ml.model_id)
            _enqueue_rebuild()
    reranker = engine.get_reranker(settings.RERANKER_MODEL) if mode == "hybrid+rerank" else None
    return engine.search_snapshot(
        snapshot,
        query,
        audience=audience,
        top_k=top_k,
        mode=mode,
        embedder=embedder,
        fusion=fusion_params(),
        max_query_chars=settings.SEARCH_MAX_QUERY_CHARS,
        reranker=reranker,
        allowed=_live_articles(audience),
        snippets=snippets,
        language=language,
        ml_embedder=ml_embedder,
        multilingual=multilingual_params(),
    )


_ml_rebuild_asked: set[str] = set()


def snippet_html(text: str, query: str) -> str:
    """The escaped snippet of `text` around the query's terms, terms in <mark>."""
    return engine.highlight(text, query)


def _ensure_index(store: IndexStore) -> Snapshot | None:
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
        from retrieval.embedding import embed_queries

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
        from retrieval.embedding import embed_queries

        return embed_queries(self._embedder, texts)


def _enqueue_rebuild() -> None:
    from retrieval.tasks import rebuild_index

    try:
        rebuild_index.delay()
    except Exception:  # broker down: the next search tries again
        logger.exception("could not enqueue rebuild_index")


# -- chunks and embeddings ----------------------------------------------------------------


@dataclass
class _Planned:
    article: Article
    specs: list[dict] = field(default_factory=list)  # one per chunk, embedding filled later


LEXICON_FILE = "normalize_lexicon.json"
_lexicon_cache: dict[str, tuple[float, Lexicon]] = {}


def normalize_lexicon(*, rebuild: bool = False) -> Lexicon:
    """What the text cleaner learned from the live KB (menu roots, path items, headings).

    Learned by every full rebuild (and `manage.py normalize_kb`) and kept in INDEX_DIR, so
    indexing one article never reads the whole KB; until then it is learned on first use.
    """
    path = Path(settings.INDEX_DIR) / LEXICON_FILE
    if not rebuild:
        try:
            mtime = path.stat().st_mtime
            cached = _lexicon_cache.get(str(path))
            if cached and cached[0] == mtime:
                return cached[1]
            lexicon = Lexicon.from_dict(json.loads(path.read_text(encoding="utf-8")))
            _lexicon_cache[str(path)] = (mtime, lexicon)
            return lexicon
        except (OSError, ValueError):
            pass  # not learned yet (or unreadable): learn it now
    rows = _live_queryset().values_list("published_revision__title", "published_revision__body")
    lexicon = build_lexicon((title or "", body or "") for title, body in rows.iterator())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(lexicon.to_dict()), encoding="utf-8")
    os.replace(tmp, path)
    _lexicon_cache[str(path)] = (path.stat().st_mtime, lexicon)
    return lexicon


def _plan_article(article: Article, lexicon: Lexicon | None = None) -> _Planned:
    """Chunk the article's cleaned published revision (title included in what gets embedded).

    The revision keeps the text as written; chunks, and so answers and citations, use the
    form `knowledge.normalize` cleans (no "Try Now" or page numbers, menu paths with ">").
    """
    plan = _Planned(article)
    revision = article.published_revision
    if revision is None:
        return plan
    title = revision.title or article.title
    body = normalize_body(revision.body, lexicon if lexicon is not None else normalize_lexicon())
    for chunk in chunk_markdown(
        body,
        target_tokens=settings.CHUNK_TARGET_TOKENS,
        overlap_tokens=settings.CHUNK_OVERLAP_TOKENS,
    ):
        text = chunk_embedding_text(title=title, heading_path=chunk.heading_path, text=chunk.text)
        plan.specs.append(
            {
                "position": chunk.position,
                "text": chunk.text,
                "heading_path": chunk.heading_path[:500],
                "tokens": chunk.tokens,
                "embed_text": text,
                "hash": content_hash(text),
                "embedding": None,
            }
        )
    if not plan.specs and title:
        # An empty body still makes the title findable.
        plan.specs.append(
            {
                "position": 0,
                "text": "",
                "heading_path": "",
                "tokens": 0,
                "embed_text": title,
                "hash": content_hash(title),
                "embedding": None,
            }
        )
    return plan


def _known_embeddings(hashes: Iterable[str], model_id: str) -> dict[str, bytes]:
    """Stored vectors for these content hashes computed by this very model."""
    hashes = list(set(hashes))
    found: dict[str, bytes] = {}
    for i in range(0, len(hashes), 500):
        rows = Chunk.objects.filter(
            content_hash__in=hashes[i : i + 500],
            embedding_model_id=model_id,
            embedding__isnull=False,
        ).values_list("content_hash", "embedding")
        for h, emb in rows:
            found[h] = _blob(emb)
    return found


def _fill_embeddings(plans: list[_Planned], embedder: Embedder, stats: dict) -> list[_Planned]:
    """Reuse stored vectors by content hash; embed the rest in one batch.

    If the batch fails, articles are embedded one by one and the ones that still fail are
    left out (and counted), so one bad article never blocks a reindex.
    """
    known = _known_embeddings((s["hash"] for p in plans for s in p.specs), embedder.model_id)
    missing: dict[str, str] = {}
    for plan in plans:
        for spec in plan.specs:
            if spec["hash"] in known:
                spec["embedding"] = known[spec["hash"]]
                stats["reused"] += 1
            else:
                missing.setdefault(spec["hash"], spec["embed_text"])
    if missing:
        try:
            vectors = embedder.embed(list(missing.values()))
            known.update(
                {h: v.astype("<f4").tobytes() for h, v in zip(missing, vectors, strict=True)}
            )
            stats["embedded"] += len(missing)
        except Exception:
            logger.exception("batch embedding failed; retrying article by article")
            for plan in plans:
                todo = {s["hash"]: s["embed_text"] for s in plan.specs if s["hash"] not in known}
                if not todo:
                    continue
                try:
                    vectors = embedder.embed(list(todo.values()))
                except Exception:
                    logger.exception("embedding article %s failed: left out", plan.article.pk)
                    stats["failed_articles"].append(plan.article.pk)
                    continue
                known.update(
                    {h: v.astype("<f4").tobytes() for h, v in zip(todo, vectors, strict=True)}
                )
                stats["embedded"] += len(todo)
    ok = []
    for plan in plans:
        if plan.article.pk in stats["failed_articles"]:
            continue
        for spec in plan.specs:
            if spec["embedding"] is None:
                spec["embedding"] = known[spec["hash"]]
        ok.append(plan)
    return ok


def _blob(value: bytes | memoryview | None) -> bytes:
    """A stored embedding as bytes (the rows read here always have one)."""
    if value is None:
        raise ValueError("chunk has no stored embedding")
    return bytes(value)


def _source_hash(revision: Revision | None) -> str:
    if revision is None:
        return ""
    return content_hash(f"{revision.title}\n{revision.body}")


def _write_chunks(plan: _Planned, model_id: str) -> list[Chunk]:
    """Replace the article's chunk rows unless they already match exactly."""
    article = plan.article
    existing = list(Chunk.objects.filter(article=article).order_by("position"))
    same = len(existing) == len(plan.specs) and all(
        c.position == s["position"]
        and c.content_hash == s["hash"]
        and c.text == s["text"]
        and c.heading_path == s["heading_path"]
        and c.revision_id == article.published_revision_id
        and c.source_hash == _source_hash(article.published_revision)
        and c.visibility == article.visibility
        and c.embedding_model_id == model_id
        for c, s in zip(existing, plan.specs, strict=False)
    )
    if same:
        return existing
    with transaction.atomic():
        Chunk.objects.filter(article=article).delete()
        return Chunk.objects.bulk_create(
            [
                Chunk(
                    article=article,
                    revision_id=article.published_revision_id,  # type: ignore[misc]  # published
                    position=s["position"],
                    text=s["text"],
                    heading_path=s["heading_path"],
                    visibility=article.visibility,
                    content_hash=s["hash"],
                    source_hash=_source_hash(article.published_revision),
                    embedding=s["embedding"],
                    embedding_model_id=model_id,
                    token_count=s["tokens"],
                )
                for s in plan.specs
            ]
        )


def _meta(chunk: Chunk, article: Article) -> ChunkMeta:
    return ChunkMeta(
        chunk_id=chunk.pk,
        article_id=article.pk,
        title=article.title,
        slug=article.slug,
        visibility=chunk.visibility,
        heading_path=chunk.heading_path,
        text=chunk.text,
        position=chunk.position,
        locale=base_language(article.locale) or "en",
    )


def _lexical_text(meta: ChunkMeta) -> str:
    return chunk_embedding_text(title=meta.title, heading_path=meta.heading_path, text=meta.text)


def _new_stats() -> dict:
    return {"articles": 0, "chunks": 0, "embedded": 0, "reused": 0, "failed_articles": []}


def _live_queryset():
    return (
        Article.objects.filter(status=ArticleStatus.PUBLISHED, published_revision__isnull=False)
        .select_related("published_revision")
        .order_by("pk")
    )


# -- rebuild and incremental updates --------------------------------------------------------


def index_rebuild(*, progress: Callable[[int, int], None] | None = None) -> dict:
    """Re-chunk every live article, embed only new text, rebuild and publish the indexes.

    `progress(done, total)` is called after each batch of articles (for a progress bar).
    """
    started = time.perf_counter()
    store = _store()
    embedder = get_embedder()
    stats = _new_stats()
    with store.write_lock():
        # Chunks of articles that are no longer live leave the database first.
        Chunk.objects.exclude(
            article__status=ArticleStatus.PUBLISHED, article__published_revision__isnull=False
        ).delete()
        ids = list(_live_queryset().values_list("pk", flat=True))
        total = len(ids)
        lexicon = normalize_lexicon(rebuild=True)
        metas: list[ChunkMeta] = []
        vectors: list[bytes] = []
        for i in range(0, total, EMBED_BATCH_ARTICLES):
            articles = list(_live_queryset().filter(pk__in=ids[i : i + EMBED_BATCH_ARTICLES]))
            plans = _fill_embeddings([_plan_article(a, lexicon) for a in articles], embedder, stats)
            for plan in plans:
                for chunk in _write_chunks(plan, embedder.model_id):
                    metas.append(_meta(chunk, plan.article))
                    vectors.append(_blob(chunk.embedding))
                stats["articles"] += 1
            if progress:
                progress(min(i + EMBED_BATCH_ARTICLES, total), total)
        # Failed articles keep no stale rows that a later rebuild could mistake for current.
        Chunk.objects.filter(article_id__in=stats["failed_articles"]).delete()
        snapshot = _build(metas, vectors, embedder)
        manifest = store.publish(snapshot)
    stats.update(
        chunks=len(metas),
        version=manifest["version"],
        index_kind=snapshot.dense_all.kind,
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info("index rebuilt: %s", stats)
    return stats


def _build(metas: list[ChunkMeta], vectors: list[bytes], embedder: Embedder) -> Snapshot:
    dim = embedder.dimension
    matrix = (
        np.frombuffer(b"".join(vectors), dtype="<f4").reshape(-1, dim)
        if vectors
        else np.zeros((0, dim), dtype=np.float32)
    )
    texts = [_lexical_text(m) for m in metas]
    ml_embedder = get_multilingual_embedder()
    ml_vectors = _multilingual_vectors(texts, ml_embedder) if ml_embedder is not None else None
    ml_vocab = None
    if ml_embedder is not None and ml_vectors is not None:
        words = kb_words(texts)
        word_vectors = _multilingual_vectors(words, ml_embedder, query_side=True)
        if word_vectors is not None:
            ml_vocab = Vocabulary(words, word_vectors)
    return build_snapshot(
        ml_vocab=ml_vocab,
        chunks=metas,
        vectors=matrix,
        lexical_texts=texts,
        model_id=embedder.model_id,
        dimension=dim,
        params=index_params(),
        ml_vectors=ml_vectors,
        ml_model_id=ml_embedder.model_id if ml_vectors is not None and ml_embedder else "",
    )


def _multilingual_vectors(
    texts: list[str], embedder: Embedder, *, query_side: bool = False
) -> np.ndarray | None:
    """The multilingual leg's vector of each text: stored ones reused by content hash, the
    rest embedded in batches and stored. None (no multilingual leg in this version, English
    search unaffected) when the model fails. query_side: e5's "query:" vectors (the KB
    vocabulary), stored under the model id + "#query"."""
    from retrieval.embedding import embed_queries

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


def _update_snapshot(
    current: Snapshot, *, article_id: int, new: list[tuple[ChunkMeta, bytes]]
) -> Snapshot:
    """A copy of `current` with the article's chunks replaced by `new` (cheap, incremental)."""
    import faiss

    from retrieval.index import DenseIndex, new_version_name
    from retrieval.lexical import LexicalIndex

    old_ids = np.array(
        [cid for cid, m in current.chunks.items() if m.article_id == article_id], dtype=np.int64
    )
    chunks = {cid: m for cid, m in current.chunks.items() if m.article_id != article_id}
    dim = current.dimension
    add_ids = np.array([m.chunk_id for m, _ in new], dtype=np.int64)
    add_vecs = (
        np.frombuffer(b"".join(v for _, v in new), dtype="<f4").reshape(-1, dim)
        if new
        else np.zeros((0, dim), dtype=np.float32)
    )
    public = np.array([m.visibility == "public" for m, _ in new], dtype=bool)
    params = index_params()
    dense = {}
    for name, mask in (("all", np.ones(len(new), dtype=bool)), ("public", public)):
        src: DenseIndex = getattr(current, f"dense_{name}")
        # Searches in this process keep using `current` while the copy is edited.
        copy = DenseIndex(faiss.clone_index(src.index), src.kind, dim, params)
        copy.update(remove=old_ids, add_vectors=add_vecs[mask], add_ids=add_ids[mask])
        dense[name] = copy
    for meta, _ in new:
        chunks[meta.chunk_id] = meta
    ordered = list(chunks.values())
    texts = [_lexical_text(m) for m in ordered]
    lexical = LexicalIndex.build(
        texts,
        [m.chunk_id for m in ordered],
        [m.visibility == "public" for m in ordered],
    )
    ml: dict[str, DenseIndex | None] = {"all": None, "public": None}
    ml_embedder = get_multilingual_embedder()
    ml_new = None
    if ml_embedder is not None and current.ml_all is not None and current.ml_public is not None:
        ml_new = _multilingual_vectors([_lexical_text(m) for m, _ in new], ml_embedder)
    if ml_new is not None and current.ml_all is not None and current.ml_public is not None:
        for name, mask in (("all", np.ones(len(new), dtype=bool)), ("public", public)):
            src = current.ml_all if name == "all" else current.ml_public
            copy = DenseIndex(faiss.clone_index(src.index), src.kind, src.dimension, params)
            copy.update(remove=old_ids, add_vectors=ml_new[mask], add_ids=add_ids[mask])
            ml[name] = copy
    return Snapshot(
        version=new_version_name(),
        model_id=current.model_id,
        dimension=dim,
        dense_all=dense["all"],
        dense_public=dense["public"],
        lexical=lexical,
        chunks=chunks,
        # A failed multilingual embedding leaves this version English-only (never stale).
        ml_model_id=current.ml_model_id if ml["all"] is not None else "",
        ml_all=ml["all"],
        ml_public=ml["public"],
        lexical_by_locale=build_locale_lexical(ordered, texts),
        # The vocabulary follows full rebuilds (a new article's new words wait for the next).
        ml_vocab=current.ml_vocab if ml["all"] is not None else None,
    )


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
            article = _live_queryset().filter(pk=article_id).first()
            new: list[tuple[ChunkMeta, bytes]] = []
            if article is None:
                Chunk.objects.filter(article_id=article_id).delete()
            else:
                stats = _new_stats()
                plans = _fill_embeddings([_plan_article(article)], embedder, stats)
                if not plans:
                    raise RuntimeError(f"embedding article {article_id} failed")
                for chunk in _write_chunks(plans[0], embedder.model_id):
                    new.append((_meta(chunk, article), _blob(chunk.embedding)))
            indexed = {c: m for c, m in current.chunks.items() if m.article_id == article_id}
            # Nothing changed (a re-announcement, a duplicate task): no new version.
            if indexed != {m.chunk_id: m for m, _ in new}:
                store.publish(_update_snapshot(current, article_id=article_id, new=new))
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
            store.publish(_update_snapshot(current, article_id=article_id, new=[]))


def current_index_version() -> str:
    """The index version searches use now ("" before the first build): cheap, one stat."""
    snapshot = _store().current()
    return snapshot.version if snapshot is not None else ""


def index_status() -> dict:
    """What is published now (for admin pages and health checks)."""
    manifest = _store().read_manifest()
    return manifest or {"version": None, "chunks": 0}


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
        for row in _live_queryset().values(
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
        for chunk_meta in snapshot.chunks.values():
            indexed.setdefault(chunk_meta.article_id, chunk_meta)
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
