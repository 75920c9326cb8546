"""Cross-lingual query translation through the KB's own words (no ORM).

multilingual-e5 puts a word and its translations close together ("imagen", "Bild", "图像" near
"picture"). Every index version keeps the KB's English vocabulary (words seen at least twice)
with their e5 query vectors; a question in another language is rewritten word by word into the
nearest KB words, and that English rewrite runs through the English search (BM25, MiniLM,
second stage), whose ranking is fused with the multilingual leg's. Only words the KB uses can
come out, so a rewrite never invents vocabulary; on the DEV TV questions it lifted foreign
hit@5 from ~0.70 to ~0.82 (bench/bench_multilingual.py).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from retrieval.lexical import _LANG_STOP_SETS, STOPWORDS

_ENGLISH_WORD_RE = re.compile(r"[a-z][a-z+\-]{2,}")
_UNICODE_WORD_RE = re.compile(r"\w+", re.UNICODE)
_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_RE = re.compile(r"[A-Za-z][A-Za-z+\-]+")
MAX_QUERY_WORDS = 24  # a long question's first words carry it; each word is one embedding


def kb_words(texts: list[str], *, min_count: int = 2, limit: int = 20_000) -> list[str]:
    """The KB's English content words seen at least `min_count` times (most frequent first)."""
    counts = Counter(
        w for text in texts for w in _ENGLISH_WORD_RE.findall(text.lower()) if w not in STOPWORDS
    )
    frequent = [w for w, c in counts.most_common() if c >= min_count]
    return sorted(frequent[:limit])


def query_words(text: str, language: str) -> list[str]:
    """The words of a foreign question to translate: Chinese as character bigrams."""
    if language == "zh":
        words: list[str] = []
        for run in _HAN_RUN_RE.findall(text):
            words.extend(run[i : i + 2] for i in range(max(1, len(run) - 1)))
        words.extend(w.lower() for w in _LATIN_RE.findall(text))
    else:
        stop = _LANG_STOP_SETS.get(language, frozenset())
        words = [
            w
            for w in _UNICODE_WORD_RE.findall(text.lower())
            if w not in stop and len(w) > 2 and not w.isdigit()
        ]
    return list(dict.fromkeys(words))[:MAX_QUERY_WORDS]


@dataclass
class Vocabulary:
    """KB words and their unit query vectors (rows match `words`)."""

    words: list[str]
    vectors: np.ndarray

    def translate(
        self,
        text: str,
        language: str,
        embed_queries: Callable[[list[str]], np.ndarray],
        *,
        per_word: int = 3,
        min_similarity: float = 0.8,
    ) -> str:
        """The question rewritten into KB words ("" when nothing is close enough)."""
        words = query_words(text, language)
        if not words or not self.words:
            return ""
        similarity = np.asarray(embed_queries(words), dtype=np.float32) @ self.vectors.T
        out: list[str] = []
        for row in similarity:
            best = np.argsort(-row)[:per_word]
            out.extend(self.words[j] for j in best if row[j] >= min_similarity)
        return " ".join(dict.fromkeys(out))

    def save(self, folder: Path) -> None:
        np.save(folder / "ml_vocab.npy", np.asarray(self.vectors, dtype=np.float32))
        (folder / "ml_vocab.json").write_text(json.dumps(self.words), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> Vocabulary | None:
        if not (folder / "ml_vocab.json").is_file():
            return None
        words = json.loads((folder / "ml_vocab.json").read_text(encoding="utf-8"))
        return cls(words, np.load(folder / "ml_vocab.npy"))
