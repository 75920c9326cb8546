"""Plain data passed out of generation: an answer, its citations and the streamed events."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal


@dataclass
class Citation:
    number: int  # the [k] marker used in the answer text
    article_id: int
    chunk_id: int
    title: str
    slug: str
    heading_path: str = ""
    supported: bool = True  # does the cited sentence overlap its cited chunk?
    support_score: float = 0.0


@dataclass
class Turn:
    """One earlier message in the conversation (for follow-up questions)."""

    role: Literal["user", "assistant"]
    content: str


@dataclass
class Answer:
    question: str
    text: str
    citations: list[Citation] = field(default_factory=list)
    abstained: bool = False
    grounding_score: float = 0.0
    confidence: float = 0.0
    backend: str = "extractive"
    model: str = ""
    prompt_version: str = ""
    latency_ms: float = 0.0
    first_token_ms: float = 0.0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    # Why the LLM was not used although configured (server down, circuit open, ...), or "".
    fallback_reason: str = ""
    hits: list[dict[str, Any]] = field(default_factory=list)
    nearest_articles: list[dict[str, Any]] = field(default_factory=list)
    # Served from the answer cache (same question, audience and index version).
    from_cache: bool = False
    # Why it abstained: "no_hits", "low_confidence", "llm_cannot_answer", ... or "".
    abstain_reason: str = ""
    # The search's own confidence; `confidence` above is the answer's (see services).
    retrieval_confidence: float = 0.0

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class AnswerEvent:
    """A streamed event: 'meta' (hits), 'token' (text delta), 'done' (the final Answer)."""

    type: Literal["meta", "token", "done", "error"]
    data: dict[str, Any]
