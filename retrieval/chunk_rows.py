"""Chunk rows and their embeddings: plan an article's chunks, reuse stored vectors by content
hash, embed the rest, write the rows (the database side of indexing; `services` publishes).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np
from django.db import transaction
from django.db.models import QuerySet

from knowledge.models import Article, ArticleStatus, Revision
from knowledge.normalize import Lexicon, build_lexicon, normalize_body
from retrieval.chunking import chunk_embedding_text, chunk_markdown, content_hash
from retrieval.conf import retrieval_conf
from retrieval.embedding import Embedder, get_embedder
from retrieval.language import base_language
from retrieval.models import Chunk
from retrieval.snapshot import ChunkMeta

logger = logging.getLogger(__name__)


@dataclass
class PlannedArticle:
    article: Article
    specs: list[dict] = field(default_factory=list)  # one per chunk, embedding filled later


LEXICON_FILE = "normalize_lexicon.json"
_lexicon_cache: dict[str, tuple[float, Lexicon]] = {}


def normalize_lexicon(*, rebuild: bool = False) -> Lexicon:
    """What the text cleaner learned from the live KB (menu roots, path items, headings).

    Learned by every full rebuild (and `manage.py normalize_kb`) and kept in INDEX_DIR, so
    indexing one article never reads the whole KB; until then it is learned on first use.
    """
    path = retrieval_conf().index_dir / LEXICON_FILE
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
    rows = live_articles().values_list("published_revision__title", "published_revision__body")
    lexicon = build_lexicon((title or "", body or "") for title, body in rows.iterator())
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(lexicon.to_dict()), encoding="utf-8")
    os.replace(tmp, path)
    _lexicon_cache[str(path)] = (path.stat().st_mtime, lexicon)
    return lexicon


def plan_article(article: Article, lexicon: Lexicon | None = None) -> PlannedArticle:
    """Chunk the article's cleaned published revision (title included in what gets embedded).

    The revision keeps the text as written; chunks, and so answers and citations, use the
    form `knowledge.normalize` cleans (no "Try Now" or page numbers, menu paths with ">").
    """
    plan = PlannedArticle(article)
    revision = article.published_revision
    if revision is None:
        return plan
    title = revision.title or article.title
    body = normalize_body(revision.body, lexicon if lexicon is not None else normalize_lexicon())
    conf = retrieval_conf()
    for chunk in chunk_markdown(
        body, target_tokens=conf.chunk_target_tokens, overlap_tokens=conf.chunk_overlap_tokens
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
            found[h] = embedding_bytes(emb)
    return found


def fill_embeddings(
    plans: list[PlannedArticle], embedder: Embedder, stats: dict
) -> list[PlannedArticle]:
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


def embedding_bytes(value: bytes | memoryview | None) -> bytes:
    """A stored embedding as bytes (the rows read here always have one)."""
    if value is None:
        raise ValueError("chunk has no stored embedding")
    return bytes(value)


def _source_hash(revision: Revision | None) -> str:
    if revision is None:
        return ""
    return content_hash(f"{revision.title}\n{revision.body}")


def write_chunks(plan: PlannedArticle, model_id: str) -> list[Chunk]:
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


def chunk_meta(chunk: Chunk, article: Article) -> ChunkMeta:
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


def new_index_stats() -> dict:
    return {"articles": 0, "chunks": 0, "embedded": 0, "reused": 0, "failed_articles": []}


def live_articles() -> QuerySet[Article]:
    """Published articles with a published revision, by id (what the index holds)."""
    return (
        Article.objects.filter(status=ArticleStatus.PUBLISHED, published_revision__isnull=False)
        .select_related("published_revision")
        .order_by("pk")
    )


def article_embeddings(
    *, published: dict[int, int | None], embedder: Embedder | None = None
) -> dict[int, np.ndarray]:
    """Sum of the stored chunk vectors of each article's published revision (article id ->
    vector), made by the configured model; articles without such chunks are left out."""
    embedder = embedder or get_embedder()
    sums: dict[int, np.ndarray] = {}
    rows = Chunk.objects.filter(
        article_id__in=list(published),
        embedding_model_id=embedder.model_id,
        embedding__isnull=False,
    ).values_list("article_id", "revision_id", "embedding")
    for article_id, revision_id, blob in rows.iterator():
        if revision_id != published[article_id] or not blob:
            continue
        vector = np.frombuffer(bytes(blob), dtype="<f4")
        if vector.shape[0] != embedder.dimension:
            continue
        sums[article_id] = sums.get(article_id, 0) + vector
    return sums
