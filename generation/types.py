"""Plain data passed out of generation: an answer, its citations and the streamed events."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
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
    # Why it abstained: "no_hits", "low_confidence", "unknown_name", "llm_cannot_answer", ...
    # or "".
    abstain_reason: str = ""
    # The search's own confidence; `confidence` above is the answer's (see services).
    retrieval_confidence: float = 0.0
    # Why a person should take over, shown to the customer and routed to the agent queue:
    # "" (answered), "low_confidence" (abstained: not found or not sure), "safety" (a hazard:
    # the fixed safety response, never manual text, and an urgent handoff).
    handoff_reason: str = ""
    # The safety verdict (generation.safety.SafetyVerdict.to_dict()) when handed off for safety.
    safety: dict[str, Any] = field(default_factory=dict)
    # The LLM's raw draft before the grounding gate, for agents only (always "" for the
    # public audience): label it as an unchecked draft wherever it is shown.
    draft_text: str = ""
    # The grounding gate's account of an LLM answer: sentences, released, surviving_share,
    # dropped (reason -> count); for agents also dropped_sentences. {} without an LLM.
    gate: dict[str, Any] = field(default_factory=dict)
    # The question's language (answers and abstentions are written in it where the text is
    # ours), and the language of the article an extractive answer quotes when that differs.
    language: str = ""
    source_language: str = ""

    def to_dict(self) -> dict:
        """Plain JSON-ready data, containers copied; what answer_from_dict reads back.

        Not dataclasses.asdict: that deep-copies every string of every hit and was the
        largest single cost of an uncached portal ask after the model itself.
        """
        data = {f.name: _plain(getattr(self, f.name)) for f in fields(self)}
        data["citations"] = [
            {f.name: getattr(c, f.name) for f in fields(c)} for c in self.citations
        ]
        return data


def _plain(value: Any) -> Any:
    """A copy of nested dicts and lists; strings, numbers and None are immutable and shared."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


@dataclass
class AnswerEvent:
    """A streamed event: 'meta' (hits), 'token' (text delta), 'done' (the final Answer)."""

    type: Literal["meta", "token", "done", "error"]
    data: dict[str, Any]
