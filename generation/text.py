"""Small text helpers shared by the extractive answerer, citations and prompts (no ORM)."""

from __future__ import annotations

import math
import re
from functools import lru_cache

# Sentence ends: ., ! or ? followed by space and an upper-case letter/digit/quote, or newlines.
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])\s+(?=[\"'(\[A-Z0-9])|\n{2,}|\n(?=\s*[-*•]\s)")
_WORD = re.compile(r"[A-Za-z0-9][A-Za-z0-9'_-]*")
_MARKDOWN_NOISE = re.compile(r"(^|\s)(#{1,6}|[-*•]|\d+\.)\s+", re.MULTILINE)
_EMPHASIS = re.compile(r"(\*\*|__|`)")

_STOPWORDS_TEXT = """
a about above after again against all am an and any are aren't as at be because been before
being below between both but by can can't cannot could couldn't did didn't do does doesn't doing
don't down during each few for from further had hadn't has hasn't have haven't having he her here
hers herself him himself his how i if in into is isn't it it's its itself let's me more most my
myself no nor not of off on once only or other ought our ours ourselves out over own same she
should shouldn't so some such than that that's the their theirs them themselves then there
there's these they this those through to too under until up very was wasn't we were weren't what
what's when where which while who whom why will with won't would wouldn't you your yours
yourself yourselves also may might must shall via use using used get gets got want wants need
needs please tell know way ways able possible one
"""
STOPWORDS = frozenset(_STOPWORDS_TEXT.split())


def normalize_whitespace(text: str) -> str:
    """Collapse runs of whitespace to single spaces."""
    return " ".join(text.split())


def strip_markdown(text: str) -> str:
    """Drop the Markdown markup that would look odd inside a quoted sentence."""
    text = _EMPHASIS.sub("", text)
    return _MARKDOWN_NOISE.sub(r"\1", text)


def split_sentences(text: str) -> list[str]:
    """Split text into sentences (simple rules: good enough for help-center prose)."""
    parts = _SENTENCE_SPLIT.split(strip_markdown(text))
    out = []
    for part in parts:
        sentence = normalize_whitespace(part)
        if sentence:
            out.append(sentence)
    return out


def words(text: str) -> list[str]:
    """Lower-cased word tokens."""
    return [w.lower().strip("'-_") for w in _WORD.findall(text)]


def _stem(word: str) -> str:
    # A tiny suffix stripper: enough to match "connect/connecting/connected/connects".
    for suffix in ("ing", "edly", "ed", "es", "s", "ly"):
        if len(word) > len(suffix) + 3 and word.endswith(suffix):
            return word[: -len(suffix)]
    return word


@lru_cache(maxsize=8192)
def stem(word: str) -> str:
    """Crude stem of one lower-cased word."""
    return _stem(word)


@lru_cache(maxsize=16384)
def content_terms(text: str) -> tuple[str, ...]:
    """Stemmed content words (no stopwords, no one-letter tokens), in order.

    Memoized: the extractive answerer scores the same chunk sentences for question after
    question, and this was most of its time.
    """
    return tuple(stem(w) for w in words(text) if w and w not in STOPWORDS and len(w) > 1)


def estimate_tokens(text: str) -> int:
    """A conservative token estimate (about 4 characters per token, rounded up)."""
    return math.ceil(len(text) / 4) + 1
