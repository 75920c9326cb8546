"""Citations: parse [k] / [k, m] markers, map them to sources, check each cited sentence."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from generation.prompts import Source
from generation.text import content_terms, normalize_whitespace, split_sentences
from generation.types import Citation

MARKER_RE = re.compile(r"\s*\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_ANY_BRACKET_NUM_RE = re.compile(r"\s*\[\s*(?:source\s*)?#?\s*(\d{1,3})\s*\]", re.IGNORECASE)


def format_marker(numbers: Sequence[int]) -> str:
    """The canonical marker text: [1] or [1, 3]."""
    return "[" + ", ".join(str(n) for n in numbers) + "]"


def parse_markers(text: str) -> list[list[int]]:
    """Every citation marker in text, as lists of numbers in order of appearance."""
    return [[int(n) for n in re.split(r"[,;]", m.group(1))] for m in MARKER_RE.finditer(text)]


def clean_markers(text: str, n_sources: int) -> str:
    """Canonicalise markers and drop numbers outside 1..n_sources (and markers left empty)."""
    text = _ANY_BRACKET_NUM_RE.sub(lambda m: f" [{m.group(1)}]", text)

    def fix(match: re.Match) -> str:
        seen: list[int] = []
        for raw in re.split(r"[,;]", match.group(1)):
            n = int(raw)
            if 1 <= n <= n_sources and n not in seen:
                seen.append(n)
        return f" {format_marker(seen)}" if seen else ""

    cleaned = MARKER_RE.sub(fix, text)
    # Merge adjacent markers: "[1] [2]" -> "[1, 2]".
    adjacent = re.compile(r"\[([\d, ]+)\]\s*\[([\d, ]+)\]")
    while adjacent.search(cleaned):
        cleaned = adjacent.sub(lambda m: _merge(m.group(1), m.group(2)), cleaned)
    # Tidy the spaces a removed marker leaves before punctuation.
    cleaned = re.sub(r"[ \t]+([.,;:!?])", r"\1", cleaned)
    return re.sub(r"[ \t]{2,}", " ", cleaned).strip()


def _merge(a: str, b: str) -> str:
    numbers: list[int] = []
    for raw in (a + "," + b).split(","):
        if raw.strip() and int(raw) not in numbers:
            numbers.append(int(raw))
    return format_marker(numbers)


@dataclass
class CitedSentence:
    text: str  # without markers
    numbers: list[int] = field(default_factory=list)
    support: float = 0.0  # content-word recall within the union of the cited sources


def cited_sentences(text: str) -> list[CitedSentence]:
    """Answer sentences with the numbers cited for each (a leading marker cites the previous)."""
    out: list[CitedSentence] = []
    for raw in split_sentences(text):
        # Markers that open a sentence ("... done. [2] Next ...") belong to the one before it.
        lead = re.match(r"^((?:\s*\[[\d,;\s]+\])+)\s*", raw)
        if lead and out:
            for nums in parse_markers(lead.group(1)):
                out[-1].numbers.extend(n for n in nums if n not in out[-1].numbers)
            raw = raw[lead.end() :]
        numbers: list[int] = []
        for nums in parse_markers(raw):
            numbers.extend(n for n in nums if n not in numbers)
        plain = normalize_whitespace(MARKER_RE.sub("", raw))
        if plain:
            out.append(CitedSentence(text=plain, numbers=numbers))
        elif out:
            out[-1].numbers.extend(n for n in numbers if n not in out[-1].numbers)
    # A marker closing a passage cites the unmarked sentences just before it.
    pending: list[CitedSentence] = []
    for sentence in out:
        if not sentence.numbers:
            pending.append(sentence)
            continue
        for earlier in pending:
            earlier.numbers = list(sentence.numbers)
        pending = []
    return out


def support(sentence: str, source_text: str) -> float:
    """Share of the sentence's distinct content words that occur in the source (0..1)."""
    terms = set(content_terms(sentence))
    if not terms:
        return 1.0  # nothing to check ("Yes.")
    return len(terms & set(content_terms(source_text))) / len(terms)


@dataclass
class CitationReport:
    text: str
    citations: list[Citation]
    grounding_score: float
    sentences: list[CitedSentence]


def on_topic(
    sentences: Sequence[str], question: str, contexts: Sequence[str] | None = None
) -> list[bool]:
    """Per sentence: does it (with its context: the cited chunk's title and heading), or a
    neighbour in the answer, share a content word with the question? Steps are on topic
    through the section they come from or the sentence that names the task."""
    q_terms = set(content_terms(question))
    if not q_terms:
        return [True] * len(sentences)
    contexts = contexts or [""] * len(sentences)
    direct = [
        bool(q_terms & set(content_terms(f"{s} {c}")))
        for s, c in zip(sentences, contexts, strict=True)
    ]
    return [
        direct[i] or (i > 0 and direct[i - 1]) or (i + 1 < len(direct) and direct[i + 1])
        for i in range(len(direct))
    ]


def check_citations(
    text: str, sources: Sequence[Source], *, min_support: float, question: str | None = None
) -> CitationReport:
    """Clean the markers of an answer, map them to sources and score support and grounding.

    A sentence counts as grounded when its content words are in the chunks it cites (at least
    min_support of them) and, given the question, when it is on topic (`on_topic`): a verbatim
    quote from an unrelated article is supported but does not answer, so it is not grounded.
    """
    by_number = {s.number: s for s in sources}
    clean = clean_markers(text, max(by_number, default=0))
    sentences = cited_sentences(clean)
    topical = None
    if question:
        contexts = [
            " ".join(
                f"{by_number[n].title} {by_number[n].heading_path}"
                for n in s.numbers
                if n in by_number
            )
            for s in sentences
        ]
        topical = on_topic([s.text for s in sentences], question, contexts)
    per_number: dict[int, list[float]] = {}
    supported_sentences = 0
    for index, sentence in enumerate(sentences):
        cited = [by_number[n] for n in sentence.numbers if n in by_number]
        if not cited:
            continue
        union_text = " ".join(s.text + " " + s.title for s in cited)
        sentence.support = support(sentence.text, union_text)
        if sentence.support >= min_support and (topical is None or topical[index]):
            supported_sentences += 1
        for source in cited:
            score = support(sentence.text, source.text + " " + source.title)
            per_number.setdefault(source.number, []).append(score)
    citations = []
    for number in sorted(per_number):
        source = by_number[number]
        score = sum(per_number[number]) / len(per_number[number])
        citations.append(
            Citation(
                number=number,
                article_id=source.article_id,
                chunk_id=source.chunk_id,
                title=source.title,
                slug=source.slug,
                heading_path=source.heading_path,
                supported=score >= min_support,
                support_score=round(score, 4),
            )
        )
    grounding = supported_sentences / len(sentences) if sentences else 0.0
    return CitationReport(
        text=clean, citations=citations, grounding_score=round(grounding, 4), sentences=sentences
    )
