"""Public entry points of generation. (Interface fixed here; implemented by the generation work.)"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from generation.types import Answer, AnswerEvent, Turn
from retrieval.types import SearchResult


def answer_question(
    question: str,
    *,
    audience: str,
    history: Sequence[Turn] = (),
    search_result: SearchResult | None = None,
) -> Answer:
    """Answer from the KB with citations, or abstain. Runs retrieval unless given its result."""
    raise NotImplementedError("generation.answer_question is being implemented")


def answer_question_stream(
    question: str,
    *,
    audience: str,
    history: Sequence[Turn] = (),
    search_result: SearchResult | None = None,
) -> Iterator[AnswerEvent]:
    """The same answer as a stream: 'meta' (hits), then 'token' deltas, then 'done' (Answer)."""
    raise NotImplementedError("generation.answer_question_stream is being implemented")
