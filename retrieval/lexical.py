"""BM25 over chunk text (title + headings + text) with bm25s (no ORM).

One index holds every chunk; a public query passes a weight mask that zeroes non-public
chunks inside the scoring, so the top-k it gets back is a full top-k of public chunks.
"""

from __future__ import annotations

import json
import logging
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)


def _import_bm25s() -> Any:
    import bm25s

    # bm25s sets its logger to DEBUG when first imported, overriding settings.LOGGING (which
    # has it at WARNING): without this every index build logs "Building index from tokens".
    logging.getLogger("bm25s").setLevel(logging.WARNING)
    return bm25s


_TOKEN_RE = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_STOP_TEXT = """a an and are as at be but by can do does for from how i if in into is it its me my
    of on or so that the their then there these this to was what when where which who why
    will with you your yours we our us should could would has have had not no yes"""
STOPWORDS = frozenset(_STOP_TEXT.split())


@lru_cache(maxsize=1)
def _stemmer():
    try:
        import Stemmer

        return Stemmer.Stemmer("english")
    except ImportError:  # PyStemmer is optional: plain lower-cased words still work
        return None


def tokenize(text: str) -> list[str]:
    """Lower-cased, stop words dropped, Snowball-stemmed word tokens."""
    words = [w.replace("'", "") for w in _TOKEN_RE.findall(text.lower())]
    words = [w for w in words if w not in STOPWORDS]
    stemmer = _stemmer()
    return stemmer.stemWords(words) if stemmer is not None else words


def stem_words(words: list[str]) -> list[str]:
    """The stems `tokenize` would give these lower-cased words (stop words included)."""
    stemmer = _stemmer()
    return stemmer.stemWords(words) if stemmer is not None else words


class LexicalIndex:
    """bm25s index whose rows map to chunk ids; `public_mask` marks public chunks."""

    def __init__(self, retriever, chunk_ids: np.ndarray, public_mask: np.ndarray):
        self.retriever = retriever
        self.chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self.public_mask = np.asarray(public_mask, dtype=np.float32)

    @classmethod
    def build(cls, texts: list[str], chunk_ids: list[int], public: list[bool]) -> LexicalIndex:
        """Index the texts (already including title and headings)."""
        return cls.build_from_tokens([tokenize(t) for t in texts], chunk_ids, public)

    @classmethod
    def build_from_tokens(
        cls, tokens: list[list[str]], chunk_ids: list[int], public: list[bool]
    ) -> LexicalIndex:
        """Index texts already tokenized (`tokenize`): one tokenization serves two indexes."""
        bm25s = _import_bm25s()

        retriever = None
        if tokens:
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
        return cls(retriever, np.array(chunk_ids, dtype=np.int64), np.array(public, dtype=bool))

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, query: str, *, k: int, public_only: bool) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk_ids) of the best k chunks with a positive BM25 score, best first."""
        empty = (np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64))
        tokens = tokenize(query)
        if self.retriever is None or not tokens or k <= 0:
            return empty
        n = len(self.chunk_ids)
        mask = self.public_mask if public_only else None
        if mask is not None and not mask.any():
            return empty
        docs, scores = self.retriever.retrieve(
            [tokens], k=min(k, n), show_progress=False, weight_mask=mask, n_threads=0
        )
        docs, scores = docs[0], scores[0]
        keep = scores > 0
        if mask is not None:
            keep &= mask[docs] > 0
        return scores[keep].astype(np.float32), self.chunk_ids[docs[keep]]

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        np.save(folder / "chunk_ids.npy", self.chunk_ids)
        np.save(folder / "public_mask.npy", self.public_mask.astype(bool))
        (folder / "lexical.json").write_text(json.dumps({"empty": self.retriever is None}))
        if self.retriever is not None:
            self.retriever.save(str(folder / "bm25"), show_progress=False)

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex:
        bm25s = _import_bm25s()

        info = json.loads((folder / "lexical.json").read_text())
        retriever = None
        if not info.get("empty"):
            retriever = bm25s.BM25.load(str(folder / "bm25"), show_progress=False)
        return cls(
            retriever,
            np.load(folder / "chunk_ids.npy"),
            np.load(folder / "public_mask.npy"),
        )
