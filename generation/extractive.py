"""The extractive answerer: picks the source sentences that best answer the question.

No model needed: sentences are scored by IDF-weighted overlap with the question, the rank of
their source, their position in it and, when the embedding model is available, cosine
similarity; MMR keeps the picks from repeating each other. Every output word comes from the
sources; only the [k] markers are added.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from generation.citations import format_marker
from generation.prompts import Source
from generation.text import content_terms, split_sentences, words

if TYPE_CHECKING:
    import numpy as np

logger = logging.getLogger(__name__)

# Weights tuned on the DEV sets (bench/bench_answer_quality.py).
W_LEXICAL = 1.0
W_EMBEDDING = 0.6
W_RANK = 1.5
W_POSITION = 0.1
W_NEXT = 0.5  # the sentence right after a picked one often carries the steps
MMR_LAMBDA = 0.75
MIN_RELATIVE_SCORE = 0.45  # stop adding sentences scoring below this share of the best
MAX_SENTENCE_WORDS = 70
MAX_ANSWER_WORDS = 90  # stop adding sentences past this many words (tuned on DEV)


@dataclass
class Candidate:
    source: Source
    position: int
    text: str
    terms: frozenset[str]
    score: float = 0.0
    relevance: float = 0.0  # the lexical, question-dependent part of the score


Embed = Callable[[list[str]], "np.ndarray"]  # returns an (n, d) array of unit vectors


def _candidates(sources: Sequence[Source]) -> list[Candidate]:
    out = []
    for source in sources:
        for position, sentence in enumerate(split_sentences(source.text)):
            n_words = len(words(sentence))
            if n_words < 3:
                continue
            if n_words > MAX_SENTENCE_WORDS:
                sentence = " ".join(sentence.split()[:MAX_SENTENCE_WORDS]) + " …"
            out.append(
                Candidate(
                    source=source,
                    position=position,
                    text=sentence,
                    terms=frozenset(content_terms(sentence)),
                )
            )
    return out


def _idf(candidates: Sequence[Candidate], sources: Sequence[Source]) -> dict[str, float]:
    # Document frequency over the sources' sentences: a word in every sentence says little.
    n = max(len(candidates), 1)
    df: dict[str, int] = {}
    for cand in candidates:
        for term in cand.terms:
            df[term] = df.get(term, 0) + 1
    return {t: math.log(1 + n / (1 + c)) for t, c in df.items()}


def _jaccard(a: frozenset[str], b: frozenset[str]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / len(a | b)


def _embedding_scores(question: str, texts: list[str], embed: Embed | None) -> list[float] | None:
    if embed is None or not texts:
        return None
    try:
        vectors = embed([question, *texts])
        q = vectors[0]
        return [float(v @ q) for v in vectors[1:]]
    except Exception:  # the answer must not fail because the embedder did
        logger.warning("extractive: embedding failed; lexical scores only", exc_info=True)
        return None


def select_sentences(
    question: str,
    sources: Sequence[Source],
    *,
    max_sentences: int = 4,
    embed: Embed | None = None,
) -> list[Candidate]:
    """The best sentences for the question, MMR-diverse, in reading order."""
    candidates = _candidates(sources)
    if not candidates:
        return []
    idf = _idf(candidates, sources)
    q_terms = set(content_terms(question))
    default_idf = max(idf.values(), default=1.0)
    q_weight = sum(idf.get(t, default_idf) for t in q_terms) or 1.0
    emb = _embedding_scores(question, [c.text for c in candidates], embed)
    ranks = {s.number: i for i, s in enumerate(sources)}
    for i, cand in enumerate(candidates):
        title_terms = set(content_terms(cand.source.title + " " + cand.source.heading_path))
        matched = q_terms & cand.terms
        lexical = sum(idf.get(t, default_idf) for t in matched) / q_weight
        # Title words count half: they say the section is on topic, not that this sentence is.
        title_only = (q_terms & title_terms) - matched
        lexical += 0.5 * sum(idf.get(t, default_idf) for t in title_only) / q_weight
        cand.relevance = lexical  # shares a word with the question (or its title does)
        score = W_LEXICAL * lexical
        if emb is not None:
            score += W_EMBEDDING * max(emb[i], 0.0)
        score += W_RANK / (1 + ranks[cand.source.number])
        score += W_POSITION / (1 + cand.position)
        cand.score = score

    selected: list[Candidate] = []
    pool = sorted(candidates, key=lambda c: c.score, reverse=True)
    best = pool[0].score
    while pool and len(selected) < max_sentences:

        def mmr(c: Candidate) -> float:
            redundancy = max((_jaccard(c.terms, s.terms) for s in selected), default=0.0)
            follows = any(
                s.source.number == c.source.number and c.position == s.position + 1
                for s in selected
            )
            return (
                MMR_LAMBDA * (c.score + (W_NEXT if follows else 0.0))
                - (1 - MMR_LAMBDA) * redundancy
            )

        # A sentence unrelated to the question may only extend a source already in use
        # (the steps after a matching sentence), never open a new one.
        used = {s.source.number for s in selected}
        eligible = [c for c in pool if c.relevance > 0 or c.source.number in used]
        if not eligible:
            break
        pick = max(eligible, key=mmr)
        if selected and pick.score + W_NEXT < MIN_RELATIVE_SCORE * best:
            break
        if any(_jaccard(pick.terms, s.terms) > 0.8 for s in selected):
            pool.remove(pick)  # a near-duplicate (manuals repeat themselves)
            continue
        if selected and sum(len(s.text.split()) for s in selected) >= MAX_ANSWER_WORDS:
            break
        selected.append(pick)
        pool.remove(pick)

    # Reading order: sources by their best pick, then sentence position inside a source.
    best_of: dict[int, float] = {}
    for cand in selected:
        best_of[cand.source.number] = max(best_of.get(cand.source.number, 0.0), cand.score)
    selected.sort(key=lambda c: (-best_of[c.source.number], c.source.number, c.position))
    return selected


def _with_marker(sentence: str, number: int) -> str:
    marker = format_marker([number])
    match = re.search(r"([.!?…:]+)[\"')\]]*$", sentence)
    if match:
        return f"{sentence[: match.start()].rstrip()} {marker}{sentence[match.start() :]}"
    return f"{sentence} {marker}."


def compose(selected: Sequence[Candidate]) -> str:
    """Join the selected sentences, each with the [k] marker of its source."""
    return " ".join(_with_marker(c.text, c.source.number) for c in selected)


def extractive_answer(
    question: str,
    sources: Sequence[Source],
    *,
    max_sentences: int = 4,
    embed: Embed | None = None,
) -> str:
    """A short answer built from source sentences with [k] markers ('' when nothing fits)."""
    return compose(select_sentences(question, sources, max_sentences=max_sentences, embed=embed))


def question_coverage(question: str, sources: Sequence[Source], *, top: int = 1) -> float:
    """Share of the question's content words found in the top source (0..1; top=1 best on DEV).

    A KB without the answer usually lacks some of the question's key words even when
    retrieval finds a loosely related article: this is the answerability signal that retrieval
    confidence alone misses (measured on the DEV sets, see bench_answer_quality).
    """
    q_terms = set(content_terms(question))
    if not q_terms:
        return 1.0
    best = 0.0
    for source in sources[:top]:
        terms = set(content_terms(f"{source.title} {source.heading_path} {source.text}"))
        best = max(best, len(q_terms & terms) / len(q_terms))
    return best


def stream_words(text: str) -> list[str]:
    """Split text into word-sized deltas whose concatenation is exactly text."""
    return re.findall(r"\S+\s*|\s+", text)
