"""Query spelling correction against the knowledge base's own words.

Customers type "serached", "teh" and "actvate"; a lexical index matches none of those, so the
article that uses the right word loses its lexical evidence. A word of the question that the
knowledge base never uses is replaced by the most frequent knowledge-base word one edit away
(insertion, deletion, substitution or a swap of neighbours), found through a table of
single-letter deletions (the "symmetric delete" idea): a lookup is a few dictionary probes, not a
scan of the vocabulary.

The vocabulary is built per snapshot *and audience*: the public speller only knows words of
public chunks, so a suggestion can never reveal a word that appears only in internal text.
Short words (under MIN_WORD_CHARS) and words with digits (model numbers, error codes) are left
alone: one edit away from a three-letter word is too many other words. A word with no
correction one edit away that the KB writes as two words ("soundbar" for "sound bar", "wifi"
for "Wi-Fi") is split the way the KB writes it.
"""

from __future__ import annotations

import itertools
import re
import threading
from collections import Counter
from collections.abc import Iterable, Mapping

from retrieval.index import ChunkMeta
from retrieval.lexical import tokenize
from retrieval.store import SearchableIndex

MIN_WORD_CHARS = 4
# A knowledge-base word must occur at least this often to be offered as the correction: a
# one-off typo inside an article must not become the "right" spelling of a customer's word.
MIN_CORRECTION_COUNT = 2
_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)
# Contractions typed without the apostrophe are words, not typos ("dont" is not "done").
_CONTRACTIONS = frozenset(
    [
        "dont",
        "cant",
        "wont",
        "isnt",
        "arent",
        "doesnt",
        "didnt",
        "wasnt",
        "werent",
        "hasnt",
        "havent",
        "couldnt",
        "wouldnt",
        "shouldnt",
        "im",
        "ive",
        "youre",
        "theyre",
        "thats",
        "whats",
    ]
)


# Words after which a capitalised word names a thing ("to Alexa", "my Roku", "install
# Spotify"); a capitalised verb after "and" ("... and Explain the steps") is not one.
_NAME_CUES = frozenset(
    [
        "to",
        "with",
        "my",
        "the",
        "a",
        "an",
        "on",
        "from",
        "for",
        "via",
        "into",
        "using",
        "your",
        "our",
        "by",
        "through",
        "in",
        "at",
        "of",
        "about",
        "is",
        "does",
        "do",
        "can",
        "use",
        "get",
        "install",
        "download",
        "connect",
        "pair",
        "link",
        "add",
        "open",
        "watch",
        "stream",
        "play",
    ]
)
_SENTENCE_RE = re.compile(r"(?<=[.!?;:])\s+|\n+")


def _deletes(word: str) -> set[str]:
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def _one_edit_apart(a: str, b: str) -> bool:
    """Damerau distance exactly 1 (one insertion, deletion, substitution or adjacent swap)."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return (
            len(diff) == 2
            and diff[1] == diff[0] + 1
            and a[diff[0]] == b[diff[1]]
            and a[diff[1]] == b[diff[0]]
        )
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


class Speller:
    """Corrects the words of a query that the vocabulary lacks (see the module docstring)."""

    def __init__(
        self, counts: Mapping[str, int], pairs: Mapping[tuple[str, str], int] | None = None
    ) -> None:
        self.counts = dict(counts)
        # Adjacent word pairs of the KB ("sound bar"): a customer's "soundbar" is split only
        # into a pair the KB itself writes, never into any two words that happen to fit.
        self.pairs = dict(pairs or {})
        self._stems: set[str] | None = None  # built on first use by unknown_names
        self._by_delete: dict[str, list[str]] = {}
        for word, count in self.counts.items():
            if count < MIN_CORRECTION_COUNT or len(word) < MIN_WORD_CHARS - 1:
                continue
            for key in _deletes(word) | {word}:
                self._by_delete.setdefault(key, []).append(word)

    @classmethod
    def from_texts(cls, texts: Iterable[str]) -> Speller:
        counts: Counter[str] = Counter()
        pairs: Counter[tuple[str, str]] = Counter()
        for text in texts:
            words = [w.lower() for w in _WORD_RE.findall(text)]
            counts.update(words)
            pairs.update((a, b) for a, b in itertools.pairwise(words) if len(a) + len(b) >= 4)
        return cls(counts, pairs)

    def correct_word(self, word: str) -> str | None:
        """The correction of one lowercase word, or None (known, too short, or no candidate)."""
        if (
            len(word) < MIN_WORD_CHARS
            or word in self.counts
            or not word.isalpha()
            or word in _CONTRACTIONS
        ):
            return None
        stems = tokenize(word)
        if not stems:
            return None  # a stopword: lexical search ignores it anyway
        candidates: set[str] = set()
        for key in _deletes(word) | {word}:
            candidates.update(self._by_delete.get(key, ()))
        # A candidate with the same stem changes nothing the index sees ("procedure" and
        # "procedures"), and a stopword candidate would only drop the word.
        best = [
            c
            for c in candidates
            if _one_edit_apart(word, c) and tokenize(c) and tokenize(c) != stems
        ]
        if not best:
            return self._split_compound(word)
        # Most frequent first; alphabetical on ties so the choice never depends on set order.
        return min(best, key=lambda c: (-self.counts[c], c))

    def _split_compound(self, word: str) -> str | None:
        """'soundbar' -> 'sound bar', 'wifi' -> 'wi fi' ("Wi-Fi"): a word the KB writes as
        two, split where the KB's own pair occurs at least MIN_CORRECTION_COUNT times (the
        most frequent split wins)."""
        splits = [
            (self.pairs.get((word[:i], word[i:]), 0), word[:i], word[i:])
            for i in range(2, len(word) - 1)
        ]
        count, head, tail = max(splits, default=(0, "", ""))
        if count < MIN_CORRECTION_COUNT:
            return None
        return f"{head} {tail}"

    def unknown_names(self, query: str) -> list[str]:
        """Names in the question the KB never uses: "How do I connect my TV to Alexa?".

        A capitalised word (not an acronym, not a sentence's first word) after a word that
        introduces a thing ("to", "my", "with", "use", ...), that no article of this audience
        uses and that is no typo of a word one does. Such a question is about something the
        KB does not cover, however well its other words match ("connect my TV" matches a lot):
        the answer path abstains instead of answering from the nearest article.
        """
        names = []
        for sentence in _SENTENCE_RE.split(query):
            words = _WORD_RE.findall(sentence)
            for before, word in itertools.pairwise(words):
                if (
                    len(word) >= MIN_WORD_CHARS - 1
                    and word[:1].isupper()
                    and not word.isupper()
                    and before.lower() in _NAME_CUES
                    and word.lower() not in self.counts
                    and not self._known_stem(word.lower())
                    and self.correct_word(word.lower()) is None
                ):
                    names.append(word)
        return names

    def _known_stem(self, word: str) -> bool:
        """Does the lexical index read the word as one the KB uses ("Bixbi" as "Bixby")?"""
        if self._stems is None:
            self._stems = {stem for w in self.counts for stem in tokenize(w)}
        stems = tokenize(word)
        return bool(stems) and all(stem in self._stems for stem in stems)

    def correct(self, query: str) -> str:
        """The query with each unknown word replaced by its correction (case kept simply)."""

        def fix(match: re.Match[str]) -> str:
            word = match.group(0)
            corrected = self.correct_word(word.lower())
            if corrected is None:
                return word
            return corrected.capitalize() if word[:1].isupper() else corrected

        return _WORD_RE.sub(fix, query)


_cache: dict[tuple[str, bool], Speller] = {}
_lock = threading.Lock()


def speller_for(snapshot: SearchableIndex, *, public_only: bool) -> Speller:
    """The snapshot's speller for one audience, built once per version."""
    key = (f"{snapshot.version}:{id(snapshot.chunks)}", public_only)
    with _lock:
        speller = _cache.get(key)
    if speller is None:
        speller = Speller.from_texts(_texts(snapshot.chunks.values(), public_only=public_only))
        with _lock:
            if len(_cache) > 8:
                _cache.clear()
            _cache[key] = speller
    return speller


def _texts(chunks: Iterable[ChunkMeta], *, public_only: bool) -> Iterable[str]:
    for meta in chunks:
        if public_only and meta.visibility != "public":
            continue  # the public vocabulary never holds words of internal text
        yield meta.title
        yield meta.heading_path
        yield meta.text
