"""Answer spans: the contiguous part of the best article that answers the question (no ORM).

Help-center answers are passages, not bags of sentences: the navigation path, then the steps
that follow it, or the one row of a troubleshooting list that matches. So the extractive
answerer scores every contiguous window of a source's units (sentences, list items; headings
mark where a part begins) and keeps the best one. The score is linear over features of the
window (question coverage overall and in its first unit, density, length, where it starts,
menu paths, list and heading structure, the embedding cosine when available); the weights are
a listwise model fitted on the DEV sets by cross-validation (bench/bench_answer_quality.py,
target: token-F1 of the window against the reference answer) and ship in
`span_weights.json` beside this module.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generation.prompts import Source
from generation.text import content_terms, normalize_whitespace

WEIGHTS_FILE = Path(__file__).with_name("span_weights.json")
MAX_SPAN_UNITS = 8
MAX_SPAN_WORDS = 140
MENU_SEPARATOR = " > "

_HEADING_RE = re.compile(r"^\s*#{1,6}\s+(.*?)\s*#*\s*$")
_ITEM_RE = re.compile(r"^\s*(?:([-*+•●])|(\d{1,2})[.)])\s+(.*)$")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])")
_EMPHASIS_RE = re.compile(r"(\*\*|__|`)")
_PATH_RE = re.compile(r"\w[^>\n]{0,60}\s>\s\w")
_CONDITION_RE = re.compile(r"^(if|when|to|make sure|check|confirm|try)\b", re.IGNORECASE)
_WORD_RE = re.compile(r"\S+")

Embed = Callable[[list[str]], Any]

SPAN_FEATURES = (
    "cov",  # idf-weighted share of the question's terms in the span
    "cov_first",  # ... in its first unit
    "cov_title",  # ... in the source's title and heading (constant per source)
    "cov_heading_before",  # ... in the heading right before the span
    "density",  # share of the span's terms that are question terms
    "words_60",  # span words / 60
    "words_60_sq",
    "log_units",
    "starts_source",  # the span begins at the start of its source
    "starts_after_heading",  # ... right after a heading
    "rel_start",  # start unit / units in the source
    "first_has_path",  # the first unit holds a menu path ("Settings > ...")
    "has_path",
    "item_share",  # share of list items among the units
    "ends_source",
    "cut_list",  # the span stops inside a list (its next unit is an item of the same list)
    "ends_before_heading",  # the unit after the span opens a new part
    "caps_share",  # share of capitalised words (a flattened table or a list of labels)
    "condition_first",  # the first unit reads like a fix ("If ...", "Check ...")
    "source_rank",  # 1 / (1 + the source's rank among the sources)
    "cos",  # embedding cosine of question and span (0 without an embedder)
    "cos_first",
)


@dataclass(frozen=True)
class Unit:
    """One sentence or list item of a source; `heading` is the heading it sits under."""

    text: str
    kind: str  # "sentence" | "item"
    number: str  # the list item's number ("" for bullets and sentences)
    heading: str
    block: int  # units of one paragraph or one list share a block
    terms: frozenset[str]
    words: int
    after_heading: bool
    # Computed once per unit, not once per window holding it (a source has ~100 windows and
    # the path regex dominated the answer's cost: 115 ms per question before).
    has_path: bool = False
    capitalised: int = 0


@dataclass
class Span:
    source: Source
    units: list[Unit]
    start: int
    end: int  # exclusive
    score: float = 0.0
    features: dict[str, float] = field(default_factory=dict)

    @property
    def selected(self) -> list[Unit]:
        return self.units[self.start : self.end]


@functools.lru_cache(maxsize=4096)
def source_units(text: str) -> tuple[Unit, ...]:
    """The units of a source text, in reading order (memoised: sources recur)."""
    units: list[Unit] = []
    heading = ""
    block = 0
    after_heading = True
    for paragraph in re.split(r"\n\s*\n", text or ""):
        lines = [ln for ln in paragraph.split("\n") if ln.strip()]
        block += 1
        pending: list[str] = []
        for line in lines:
            heading_match = _HEADING_RE.match(line)
            item = None if heading_match else _ITEM_RE.match(line)
            if heading_match or item:
                after_heading = _flush(units, pending, heading, block, after_heading)
            if heading_match:
                heading = normalize_whitespace(heading_match.group(1))
                after_heading = True
                block += 1
            elif item:
                body = normalize_whitespace(_EMPHASIS_RE.sub("", item.group(3)))
                number = item.group(2) or ""
                units.append(_unit(body, "item", number, heading, block, after_heading))
                after_heading = False
            else:
                pending.append(line)
        after_heading = _flush(units, pending, heading, block, after_heading)
    return tuple(units)


def _flush(units: list[Unit], pending: list[str], heading: str, block: int, after: bool) -> bool:
    """Split the pending prose lines into sentence units; returns the new after-heading flag."""
    joined = normalize_whitespace(" ".join(pending))
    pending.clear()
    for sentence in _SENTENCE_END_RE.split(_EMPHASIS_RE.sub("", joined)):
        sentence = sentence.strip()
        if sentence:
            units.append(_unit(sentence, "sentence", "", heading, block, after))
            after = False
    return after


def _unit(text: str, kind: str, number: str, heading: str, block: int, after: bool) -> Unit:
    words = _WORD_RE.findall(text)
    return Unit(
        text=text,
        kind=kind,
        number=number,
        heading=heading,
        block=block,
        terms=frozenset(content_terms(text)),
        words=len(words),
        after_heading=after,
        has_path=bool(_PATH_RE.search(text)),
        capitalised=sum(1 for w in words if w[:1].isupper()),
    )


def candidate_spans(source: Source, *, rank: int = 0) -> list[Span]:
    """Every window of at most MAX_SPAN_UNITS units and MAX_SPAN_WORDS words (at least one)."""
    units = list(source_units(source.text))
    spans = []
    for start in range(len(units)):
        n_words = 0
        for end in range(start + 1, min(len(units), start + MAX_SPAN_UNITS) + 1):
            n_words += units[end - 1].words
            if n_words > MAX_SPAN_WORDS and end > start + 1:
                break
            spans.append(Span(source, units, start, end, features={"source_rank": 1 / (1 + rank)}))
    return spans


def _coverage(found: frozenset[str] | set[str], weights: dict[str, float]) -> float:
    total = sum(weights.values()) or 1.0
    return sum(w for t, w in weights.items() if t in found) / total


def _caps_share(units: Sequence[Unit]) -> float:
    words = sum(u.words for u in units)
    return sum(u.capitalised for u in units) / words if words else 0.0


def score_features(
    question: str,
    spans: Sequence[Span],
    *,
    embed: Embed | None = None,
) -> None:
    """Fill each span's `features` (idf from the units of all the spans' sources)."""
    if not spans:
        return
    all_units: dict[int, tuple[Unit, ...]] = {}
    for span in spans:
        all_units.setdefault(id(span.units), tuple(span.units))
    df: dict[str, int] = {}
    n_units = 0
    for units in all_units.values():
        for unit in units:
            n_units += 1
            for term in unit.terms:
                df[term] = df.get(term, 0) + 1
    q_terms = set(content_terms(question))
    weights = {t: math.log(1 + (n_units + 1) / (1 + df.get(t, 0))) for t in q_terms}
    cos_unit: dict[tuple[int, int], float] = {}
    q_vec = None
    if embed is not None:
        try:
            texts = [u.text for units in all_units.values() for u in units]
            vectors = embed([question, *texts])
            q_vec = vectors[0]
            i = 1
            for key, units in all_units.items():
                for pos in range(len(units)):
                    cos_unit[(key, pos)] = float(vectors[i] @ q_vec)
                    i += 1
        except Exception:  # an answer must not fail because the embedder did
            q_vec = None
    for span in spans:
        sel = span.selected
        terms: set[str] = set().union(*(u.terms for u in sel))
        first = sel[0]
        n_words = sum(u.words for u in sel)
        title_terms = set(content_terms(f"{span.source.title} {span.source.heading_path}"))
        heading_before = set(content_terms(first.heading)) if first.after_heading else set()
        nxt = span.units[span.end] if span.end < len(span.units) else None
        f = span.features
        f["cov"] = _coverage(terms, weights)
        f["cov_first"] = _coverage(first.terms, weights)
        f["cov_title"] = _coverage(title_terms, weights)
        f["cov_heading_before"] = _coverage(heading_before, weights)
        f["density"] = (len(terms & q_terms) / len(terms)) if terms else 0.0
        f["words_60"] = n_words / 60
        f["words_60_sq"] = (n_words / 60) ** 2
        f["log_units"] = math.log(len(sel))
        f["starts_source"] = float(span.start == 0)
        f["starts_after_heading"] = float(first.after_heading)
        f["rel_start"] = span.start / max(len(span.units), 1)
        f["first_has_path"] = float(first.has_path)
        f["has_path"] = float(any(u.has_path for u in sel))
        f["item_share"] = sum(u.kind == "item" for u in sel) / len(sel)
        f["ends_source"] = float(span.end == len(span.units))
        f["cut_list"] = float(
            nxt is not None
            and nxt.kind == "item"
            and sel[-1].kind == "item"
            and nxt.block == sel[-1].block
        )
        f["ends_before_heading"] = float(nxt is not None and nxt.after_heading)
        f["caps_share"] = _caps_share(sel)
        f["condition_first"] = float(bool(_CONDITION_RE.match(first.text)))
        if q_vec is not None:
            key = id(span.units)
            cosines = [cos_unit.get((key, p), 0.0) for p in range(span.start, span.end)]
            f["cos"] = sum(cosines) / len(cosines)
            f["cos_first"] = cosines[0]
        else:
            f["cos"] = f["cos_first"] = 0.0


@functools.lru_cache(maxsize=4)
def load_span_weights(path: str = str(WEIGHTS_FILE)) -> dict[str, float]:
    """Feature -> weight (standardised features folded in), from the shipped JSON."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {name: float(w) for name, w in data["weights"].items()}


def best_span(
    question: str,
    sources: Sequence[Source],
    *,
    embed: Embed | None = None,
    weights: dict[str, float] | None = None,
) -> Span | None:
    """The highest-scoring window over the given sources (best source first), or None."""
    spans = [s for rank, src in enumerate(sources) for s in candidate_spans(src, rank=rank)]
    if not spans:
        return None
    score_features(question, spans, embed=embed)
    weights = weights if weights is not None else load_span_weights()
    for span in spans:
        span.score = sum(weights.get(k, 0.0) * v for k, v in span.features.items())
    return max(spans, key=lambda s: s.score)


def render(span: Span, marker: str) -> str:
    """The span as customer text: sentences run on, list items one a line, marker per part."""
    parts: list[str] = []
    prose: list[str] = []

    def flush() -> None:
        if prose:
            parts.append(_with_marker(" ".join(prose), marker))
            prose.clear()

    for unit in span.selected:
        if unit.kind == "item":
            flush()
            bullet = f"{unit.number}." if unit.number else "-"
            parts.append(f"{bullet} {_with_marker(unit.text, marker)}")
        else:
            prose.append(unit.text)
    flush()
    out: list[str] = []
    for part in parts:
        is_item = bool(_ITEM_RE.match(part))
        if out:
            out.append("\n" if is_item else "\n\n")
        out.append(part)
    return "".join(out)


def _with_marker(text: str, marker: str) -> str:
    match = re.search(r"([.!?:]+)[\"')\]]*$", text)
    if match:
        return f"{text[: match.start()].rstrip()} {marker}{text[match.start() :]}"
    return f"{text} {marker}."
