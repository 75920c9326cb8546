"""Plain data passed out of retrieval: no ORM objects, so callers can log and serialise them."""

from __future__ import annotations

from dataclasses import dataclass, field

from knowledge.audience import AUDIENCES as AUDIENCES
from knowledge.audience import Audience

# Short names callers already use; the enum is the one definition.
PUBLIC = Audience.PUBLIC
INTERNAL = Audience.INTERNAL


@dataclass
class ChunkHit:
    chunk_id: int
    text: str
    heading_path: str
    score: float
    snippet_html: str = ""


@dataclass
class SearchHit:
    """One article in a result list, with its best-matching chunks (best first)."""

    article_id: int
    title: str
    slug: str
    visibility: str
    score: float
    chunks: list[ChunkHit] = field(default_factory=list)
    snippet_html: str = ""
    dense_score: float | None = None
    lexical_score: float | None = None
    locale: str = "en"  # the article's language


@dataclass
class SearchResult:
    query: str
    audience: str
    hits: list[SearchHit]
    # 0..1: how sure retrieval is that the top hit answers the query (used for abstention).
    confidence: float = 0.0
    mode: str = "hybrid"
    took_ms: float = 0.0
    index_version: str = ""
    # The second stage's view of the top article (hybrid+rescore): its logit, the margin over
    # the runner-up and its features; generation's confidence model reads these.
    signals: dict[str, float] = field(default_factory=dict)
    # The query as the lexical leg read it, when spelling correction changed it ("" if not).
    corrected_query: str = ""
    # Names in the question no article of this audience uses ("Alexa"; spelling.Speller).
    unknown_names: list[str] = field(default_factory=list)
    # The question's language as search used it (detected, or the site language): answers
    # and abstentions are written in it.
    language: str = ""
    # A foreign question rewritten into the KB's words (retrieval/vocabulary.py), or "".
    translated_query: str = ""
