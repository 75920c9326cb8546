"""Public entry points of generation: grounded answers with citations, streamed or whole.

Flow: condense a follow-up into a standalone query, retrieve (unless given the result),
abstain on no/low-confidence hits, then answer with the LLM when one is configured and
healthy, else extractively; check citations and grounding; record everything on the Answer.

Abstention: Answer.confidence = 0.5 * retrieval confidence + 0.5 * the share of the question's
content words present in the top sources (calibrated on the DEV sets: together they separate
answerable from unanswerable questions better than either alone); below
ANSWER_MIN_CONFIDENCE_PUBLIC / _INTERNAL we abstain.

Stream contract (for the UIs): one "meta" event {"hits", "confidence", "retrieval_confidence",
"query"}, then "token" events {"text": delta}, then one "done" event {"answer":
Answer.to_dict()}. If the LLM fails after some tokens were sent, the next token event carries
{"reset": true}: the client clears what it has shown and continues with the extractive answer
from that event on. The "done" answer text is always the authoritative final text. LLM text
reaches token events only through the grounding gate (generation/gate.py): one event per
released sentence, so no ungrounded sentence is ever sent to any channel.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Generator, Iterator, Sequence
from typing import Any

from generation import answer_cache, extractive, languages, safety, spans
from generation import confidence as confidence_model
from generation.answer_cache import EXTRACTIVE_VERSION, answer_from_dict
from generation.backends import (
    LLMError,
    LLMNotConfigured,
    get_llm_backend,
    llm_configured,
)
from generation.citations import check_citations
from generation.conf import generation_conf, llm_conf
from generation.gate import CrossLingualSupport, GroundingGate, SupportFn, lexical_support
from generation.prompts import (
    CANNOT_ANSWER,
    PROMPT_VERSION,
    Source,
    build_prompt,
    condense_question,
    count_tokens,
)
from generation.types import Answer, AnswerEvent, Turn
from retrieval.types import AUDIENCES, PUBLIC, SearchHit, SearchResult

logger = logging.getLogger(__name__)

ABSTAIN_TEXT = languages.ABSTAIN_TEXTS["en"]
# How the grounding gate scores a sentence against its cited chunks (swappable).
GATE_SUPPORT: SupportFn = lexical_support
MAX_CHUNKS_PER_ARTICLE = 2
NEAREST_ARTICLES = 3
# Articles whose passages the extractive answer and the confidence model consider (a compound
# question's second part may sit in another; a simple one is answered from the first alone).
ANSWER_ARTICLES = 3


# --- helpers ---------------------------------------------------------------------------
def _validate(question: str, audience: str) -> str:
    if audience not in AUDIENCES:
        raise ValueError(f"audience must be one of {', '.join(AUDIENCES)}, not {audience!r}")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("the question is empty")
    question = " ".join(question.split())
    if len(question) > generation_conf().max_question_chars:
        raise ValueError(
            f"the question is too long ({len(question)} characters; "
            f"at most {generation_conf().max_question_chars})"
        )
    return question


def answer_confidence(
    question: str,
    sources: Sequence[Source],
    retrieval_confidence: float,
    *,
    signals: dict[str, float] | None = None,
    span: Any = None,
) -> float:
    """0..1: how likely the sources answer the question (the abstention score).

    By default (ANSWER_CONFIDENCE_MODEL=fitted), with the second stage's signals and the
    embedder it was fitted with, the fitted model (`generation.confidence`): out of fold it
    catches 56% / 76% of the DEV manuals' unanswerable questions against the formula's 42%,
    and, fitted on small KBs sampled from them too, 84-91% on 2-8 article KBs. Otherwise
    (ANSWER_CONFIDENCE_MODEL=formula, a cross-encoder second stage, the hash test embedder):
    retrieval confidence averaged with the top source's term coverage.
    """
    if not sources:
        return 0.0
    if signals and _fitted_confidence():
        return confidence_model.confidence(signals, span)
    coverage = extractive.question_coverage(question, sources)
    return round(0.5 * float(retrieval_confidence) + 0.5 * coverage, 4)


def _embedding_model_id() -> str:
    try:
        from retrieval.embedding import get_embedder

        return get_embedder().model_id
    except Exception:  # no embedder: the model's dense signals are absent too
        return ""


def _fitted_confidence() -> bool:
    """ANSWER_CONFIDENCE_MODEL=fitted, with the embedder the model was fitted with."""
    return generation_conf().confidence_model == "fitted" and confidence_model.applies_to(
        _embedding_model_id()
    )


def min_confidence(audience: str) -> float:
    """The answer confidence below which we abstain, for this audience."""
    if _fitted_confidence():
        return confidence_model.fitted_threshold(audience)
    if audience == PUBLIC:
        return generation_conf().min_confidence_public
    return generation_conf().min_confidence_internal


def _visible_hits(result: SearchResult, audience: str) -> list[SearchHit]:
    # Defence in depth: retrieval filters by audience, but a portal answer must never cite an
    # internal article even if a caller passes a search result built for agents.
    if audience == PUBLIC:
        return [h for h in result.hits if h.visibility == PUBLIC]
    return list(result.hits)


def hit_to_dict(hit: SearchHit) -> dict[str, Any]:
    """A compact, JSON-safe record of one hit (chunk texts stay in the database)."""
    return {
        "article_id": hit.article_id,
        "title": hit.title,
        "slug": hit.slug,
        "visibility": hit.visibility,
        "score": round(float(hit.score), 6),
        "dense_score": None if hit.dense_score is None else round(float(hit.dense_score), 6),
        "lexical_score": None if hit.lexical_score is None else round(float(hit.lexical_score), 6),
        "snippet_html": hit.snippet_html,
        "chunks": [
            {"chunk_id": c.chunk_id, "heading_path": c.heading_path, "score": round(c.score, 6)}
            for c in hit.chunks
        ],
    }


def sources_from_hits(hits: Sequence[SearchHit], *, max_sources: int) -> list[Source]:
    """Number the hits' best chunks [1]..[n], best article first."""
    sources: list[Source] = []
    for hit in hits:
        for chunk in hit.chunks[:MAX_CHUNKS_PER_ARTICLE]:
            if len(sources) >= max_sources:
                return sources
            if not chunk.text.strip():
                continue
            sources.append(
                Source(
                    number=len(sources) + 1,
                    article_id=hit.article_id,
                    chunk_id=chunk.chunk_id,
                    title=hit.title,
                    slug=hit.slug,
                    heading_path=chunk.heading_path,
                    text=chunk.text,
                    score=chunk.score,
                    visibility=hit.visibility,
                    locale=hit.locale or "en",
                )
            )
    return sources


def cross_lingual_support() -> CrossLingualSupport | None:
    """The gate's test for sentences in another language than their sources (None: off).

    Needs the multilingual embedder (MULTILINGUAL_EMBEDDING_BACKEND) and
    ANSWER_GATE_CROSS_LINGUAL_MIN_COSINE below 1; a sentence's language is the configured
    detector's, "" when it is unsure (then only word overlap judges it).
    """
    threshold = generation_conf().gate_cross_lingual_min_cosine
    if threshold >= 1.0:
        return None
    from retrieval.embedding import embed_queries, get_multilingual_embedder
    from retrieval.language import detect_configured

    embedder = get_multilingual_embedder()
    if embedder is None:
        return None

    def sentence_language(text: str) -> str:
        detection = detect_configured(text)
        return "" if detection.fallback else detection.language

    return CrossLingualSupport(
        embed_sentences=lambda texts: embed_queries(embedder, texts),
        embed_chunks=embedder.embed,
        detect=sentence_language,
        min_cosine=threshold,
    )


def _question_language(question: str) -> str:
    """The question's language when search did not say (a caller-built SearchResult)."""
    try:
        from retrieval.language import detect_configured

        return detect_configured(question).language
    except Exception:  # detection must never break an answer
        logger.exception("language detection failed")
        return ""


def _extractive_text(question: str, sources: Sequence[Source]) -> str:
    return extractive.extractive_answer(question, _answer_sources(sources))


def _answer_sources(sources: Sequence[Source]) -> list[Source]:
    """The sources an extractive passage may come from: those of the best few articles."""
    articles: list[int] = []
    for source in sources:
        if source.article_id not in articles:
            articles.append(source.article_id)
    keep = set(articles[:ANSWER_ARTICLES])
    return [s for s in sources if s.article_id in keep]


def _token_events(text: str, *, reset: bool = False) -> Iterator[AnswerEvent]:
    delay = generation_conf().stream_delay_ms / 1000
    for i, delta in enumerate(extractive.stream_words(text)):
        data: dict[str, Any] = {"text": delta}
        if reset and i == 0:
            data["reset"] = True
        if delay:
            time.sleep(delay)
        yield AnswerEvent("token", data)


def _nearest(hits: Sequence[SearchHit]) -> list[dict[str, Any]]:
    return [{"id": h.article_id, "title": h.title, "slug": h.slug} for h in hits[:NEAREST_ARTICLES]]


class _Clock:
    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.first_token_ms = 0.0

    def ms(self) -> float:
        return round((time.perf_counter() - self.started) * 1000, 2)

    def mark_token(self) -> None:
        if not self.first_token_ms:
            self.first_token_ms = self.ms()


# --- the pipeline ----------------------------------------------------------------------
def answer_question(
    question: str,
    *,
    audience: str,
    history: Sequence[Turn] = (),
    search_result: SearchResult | None = None,
) -> Answer:
    """Answer from the KB with citations, or abstain. Runs retrieval unless given its result."""
    started = time.perf_counter()
    asked = _validate(question, audience)
    key = answer_cache.key(asked, audience) if not history and search_result is None else None
    cached = answer_cache.get(key)
    if cached is not None:
        cached.question = asked
        cached.from_cache = True
        cached.latency_ms = cached.first_token_ms = round((time.perf_counter() - started) * 1000, 2)
        return cached
    answer: Answer | None = None
    for event in _stream(
        asked, audience=audience, history=tuple(history or ()), search_result=search_result
    ):
        if event.type == "done":
            answer = answer_from_dict(event.data["answer"])
    assert answer is not None  # the stream always ends with "done"
    # An LLM failure is transient: its fallback must not be served after the LLM recovers.
    if key and not answer.fallback_reason:
        answer_cache.put(key, answer)
    return answer


def answer_question_stream(
    question: str,
    *,
    audience: str,
    history: Sequence[Turn] = (),
    search_result: SearchResult | None = None,
) -> Generator[AnswerEvent, None, None]:
    """The same answer as a stream: 'meta' (hits), then 'token' deltas, then 'done' (Answer).

    Raises ValueError at once (before any event) for an empty/oversized question or a bad
    audience; after that it never raises: LLM failures fall back to the extractive answer.
    """
    question = _validate(question, audience)
    history = tuple(history or ())
    return _stream(question, audience=audience, history=history, search_result=search_result)


def _stream(
    question: str,
    *,
    audience: str,
    history: tuple[Turn, ...],
    search_result: SearchResult | None,
) -> Generator[AnswerEvent, None, None]:
    clock = _Clock()
    verdict = safety.assess(question)
    if verdict.hazard:  # never answered from the manuals: the safety response, urgent handoff
        answer = safety.handoff_answer(question, verdict)
        yield AnswerEvent(
            "meta",
            {"hits": [], "confidence": 0.0, "retrieval_confidence": 0.0, "query": question},
        )
        for event in _token_events(answer.text):
            clock.mark_token()
            yield event
        yield _done(answer, clock)
        return
    query = condense_question(question, history) if history else question
    fallback_reason = ""
    if search_result is None:
        try:
            from retrieval import services as retrieval_services

            search_result = retrieval_services.search(
                query, audience=audience, top_k=generation_conf().search_top_k
            )
        except Exception:
            # A broken index must not break the chat: abstain honestly and log loudly.
            logger.exception("retrieval failed for question %r", question[:200])
            search_result = SearchResult(query=query, audience=audience, hits=[])
            fallback_reason = "retrieval_error"
    hits = _visible_hits(search_result, audience)
    answer = Answer(
        question=question,
        text="",
        retrieval_confidence=round(float(search_result.confidence), 6),
        hits=[hit_to_dict(h) for h in hits],
        fallback_reason=fallback_reason,
        language=search_result.language or _question_language(question),
    )
    sources = sources_from_hits(hits, max_sources=generation_conf().max_sources)
    # A question in another language than the best article's: the extractive answer quotes
    # that article (labelled with its language) and is judged on the article's own words.
    cross_lingual = bool(hits) and answer.language != (hits[0].locale or "en")
    # Its words in the article's language: the KB-vocabulary rewrite when search made one.
    quoted_question = question
    if cross_lingual and sources:
        quoted_question = search_result.translated_query or (
            f"{sources[0].title} {sources[0].heading_path}".strip()
        )
    # Judged on the condensed query: a follow-up's own words are too few to judge.
    span = None
    if search_result.signals and sources and _fitted_confidence():
        span = spans.best_span(query, _answer_sources(sources))
    answer.confidence = answer_confidence(
        query, sources, search_result.confidence, signals=search_result.signals, span=span
    )
    if cross_lingual:
        # Term coverage cannot be measured across languages: retrieval confidence alone.
        answer.confidence = round(float(search_result.confidence), 4)
    yield AnswerEvent(
        "meta",
        {
            "hits": answer.hits,
            "confidence": answer.confidence,
            "retrieval_confidence": answer.retrieval_confidence,
            "query": query,
        },
    )

    abstain_reason = ""
    if not sources:
        abstain_reason = fallback_reason or "no_hits"
    elif answer.confidence < min_confidence(audience):
        abstain_reason = "low_confidence"
    elif (
        search_result.unknown_names
        and not cross_lingual
        and generation_conf().abstain_on_unknown_names
    ):
        abstain_reason = "unknown_name"

    reset = False
    if not abstain_reason and llm_configured():
        outcome, reset = yield from _llm_answer(
            question, history, sources, answer, clock, audience=audience
        )
        if outcome == "done":
            yield _done(answer, clock)
            return
        if outcome == "abstain":
            abstain_reason = "llm_cannot_answer"

    if abstain_reason:
        yield from _abstain(answer, hits, clock, reason=abstain_reason, reset=reset)
        yield _done(answer, clock)
        return

    # The extractive answer: the default, and the fallback for every LLM failure.
    text = _extractive_text(quoted_question, sources)
    if not text:
        yield from _abstain(answer, hits, clock, reason="no_answer_sentences", reset=reset)
        yield _done(answer, clock)
        return
    report = check_citations(
        text, sources, min_support=generation_conf().min_support, question=quoted_question
    )
    answer.backend = "extractive"
    answer.model = EXTRACTIVE_VERSION
    answer.prompt_version = EXTRACTIVE_VERSION
    if cross_lingual and report.text:
        answer.source_language = hits[0].locale or "en"
        label = languages.source_language_label(answer.language, answer.source_language)
        report.text = f"{label}\n\n{report.text}"
    answer.text = report.text
    answer.citations = report.citations
    answer.grounding_score = report.grounding_score
    answer.prompt_tokens = 0
    answer.completion_tokens = count_tokens(report.text)
    for event in _token_events(report.text, reset=reset):
        clock.mark_token()
        yield event
    yield _done(answer, clock)


def _llm_answer(
    question: str,
    history: Sequence[Turn],
    sources: list[Source],
    answer: Answer,
    clock: _Clock,
    *,
    audience: str = PUBLIC,
) -> Generator[AnswerEvent, None, tuple[str, bool]]:
    """Stream the LLM's answer into `answer` through the grounding gate; returns
    (outcome, tokens_were_sent).

    Only sentences the gate releases (cited, supported by their cited chunks, no link or
    contact found in no source) become token events, for every audience: customers never see
    ungrounded text, and agents' suggested replies are as safe to send. Agents also get the raw
    draft (answer.draft_text) and the dropped sentences (answer.gate). outcome: 'done',
    'abstain' or 'fallback' (answer.fallback_reason then says why: an LLM failure,
    llm_uncited_answer, or llm_gate_rejected when fewer than ANSWER_GATE_MIN_SURVIVING of the
    draft's sentences survived). When tokens were already sent, the caller's next token event
    carries reset=True.
    """
    prompt = build_prompt(
        question,
        sources,
        history=history,
        max_context_tokens=llm_conf().max_context_tokens,
        answer_tokens=llm_conf().max_answer_tokens,
        history_turns=generation_conf().history_turns,
        language=answer.language,
    )
    gate = GroundingGate(
        prompt.sources,
        min_support=generation_conf().gate_min_support,
        support_fn=GATE_SUPPORT,
        attribute_uncited=generation_conf().gate_attribute_uncited,
        cross_lingual=cross_lingual_support(),
    )
    agents = audience != PUBLIC
    sent_any = False
    iterator = None
    try:
        backend = get_llm_backend()
        stream = backend.stream(prompt.messages, max_tokens=llm_conf().max_answer_tokens)
        answer.model = backend.model
        iterator = iter(stream)
        for delta in iterator:
            for released in gate.feed(delta):
                sent_any = True
                clock.mark_token()
                yield AnswerEvent("token", {"text": released})
    except LLMError as exc:
        if not isinstance(exc, LLMNotConfigured):
            logger.warning("LLM failed (%s): %s; answering extractively", exc.reason, exc)
        answer.fallback_reason = exc.reason
        if agents:
            answer.draft_text = gate.draft
        return "fallback", sent_any
    finally:
        # If our caller went away mid-answer, close the HTTP stream now: the server then
        # aborts the request instead of generating for nobody.
        close = getattr(iterator, "close", None)
        if close is not None:
            close()

    tail = "".join(gate.finish())  # the last sentence: shown only if the answer stands
    report = gate.report
    text = report.draft_text
    if agents:
        answer.draft_text = text
    answer.gate = report.summary(include_text=agents)
    if not text:
        answer.fallback_reason = "llm_empty_response"
        return "fallback", sent_any
    if text.startswith(CANNOT_ANSWER) or text.rstrip(".").endswith(CANNOT_ANSWER):
        answer.backend = "llm"
        answer.prompt_tokens = stream.usage.prompt_tokens or prompt.prompt_tokens
        answer.completion_tokens = stream.usage.completion_tokens or count_tokens(text)
        return "abstain", sent_any
    if not report.cited_any and not report.released:
        # An answer citing nothing is not grounded: treat it as garbage, not as an answer.
        answer.fallback_reason = "llm_uncited_answer"
        return "fallback", sent_any
    if not report.released or report.surviving_share < generation_conf().gate_min_surviving:
        answer.fallback_reason = "llm_gate_rejected"
        return "fallback", sent_any
    if tail:
        clock.mark_token()
        yield AnswerEvent("token", {"text": tail})
    checked = check_citations(
        report.released_text, prompt.sources, min_support=generation_conf().min_support
    )
    answer.backend = "llm"
    answer.model = stream.model or answer.model
    answer.prompt_version = PROMPT_VERSION
    answer.text = report.released_text  # exactly what the token events showed
    answer.citations = checked.citations
    answer.grounding_score = checked.grounding_score
    answer.prompt_tokens = stream.usage.prompt_tokens or prompt.prompt_tokens
    answer.completion_tokens = stream.usage.completion_tokens or count_tokens(text)
    return "done", sent_any or bool(tail)


def _abstain(
    answer: Answer,
    hits: Sequence[SearchHit],
    clock: _Clock,
    *,
    reason: str,
    reset: bool = False,
) -> Iterator[AnswerEvent]:
    answer.abstained = True
    answer.text = languages.abstain_text(answer.language)
    answer.citations = []
    answer.grounding_score = 0.0
    answer.nearest_articles = _nearest(hits)
    if answer.backend != "llm":
        answer.backend = "extractive"
        answer.model = EXTRACTIVE_VERSION
    answer.prompt_version = PROMPT_VERSION if answer.backend == "llm" else EXTRACTIVE_VERSION
    answer.abstain_reason = reason
    answer.handoff_reason = "low_confidence"  # not found or not sure: offer a person
    for event in _token_events(answer.text, reset=reset):
        clock.mark_token()
        yield event


def _done(answer: Answer, clock: _Clock) -> AnswerEvent:
    answer.latency_ms = clock.ms()
    answer.first_token_ms = clock.first_token_ms or answer.latency_ms
    return AnswerEvent("done", {"answer": answer.to_dict()})


# --- LLM utilities for other apps -------------------------------------------------------
def llm_health() -> dict[str, Any]:
    """Is the LLM reachable and serving LLM_MODEL? Safe at start-up and in a health endpoint."""
    if not llm_configured():
        return {"ok": True, "backend": "extractive", "configured": False, "error": ""}
    try:
        backend = get_llm_backend()
    except LLMError as exc:
        return {
            "ok": False,
            "backend": llm_conf().backend,
            "configured": True,
            "error": str(exc),
        }
    return {**backend.health(), "configured": True}


def complete_json(
    messages: list[dict[str, str]], schema: dict, *, max_tokens: int | None = None
) -> dict[str, Any]:
    """A JSON object following schema from the LLM (guided decoding), e.g. drafted articles.

    Raises LLMNotConfigured without an LLM and other LLMError subclasses when it fails:
    callers decide their own fallback (insights keeps the evidence without a draft).
    """
    backend = get_llm_backend()
    return backend.complete_json(
        messages, schema, max_tokens=max_tokens or llm_conf().max_answer_tokens * 2
    )
