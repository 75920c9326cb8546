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


# Per-language analysis for articles written in other languages (issue 15). English keeps
# `tokenize` above unchanged; these only index and query the per-locale indexes.
_SNOWBALL = {"es": "spanish", "de": "german", "fr": "french", "it": "italian", "pt": "portuguese"}
_UNICODE_WORD_RE = re.compile(r"\w+", re.UNICODE)
_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LANG_STOPWORDS = {
    "es": """a al como con cual cuando de del donde el en es esta este hay la las lo los mi mis
        no o para pero por que qué se si sin su sus un una uno y yo me puedo cómo dónde""",
    "de": """als am an auf aus bei bin das dass dem den der des die du ein eine einem einen einer
        es für hat ich im in ist kann man mein meine mit nicht oder sich und von was wie wo zu""",
    "fr": """à au aux avec ce ces comment dans de des du elle en est et il je la le les ma mais
        me mes mon ne ou où par pas pour puis que qui sa se son sur un une vous""",
}
_LANG_STOP_SETS = {k: frozenset(v.split()) for k, v in _LANG_STOPWORDS.items()}


@lru_cache(maxsize=8)
def _language_stemmer(language: str):
    algorithm = _SNOWBALL.get(language)
    if algorithm is None:
        return None
    try:
        import Stemmer

        return Stemmer.Stemmer(algorithm)
    except (ImportError, KeyError):
        return None


def tokenize_for(text: str, language: str) -> list[str]:
    """Tokens in the analysis of `language`: English as `tokenize`; Chinese as character
    bigrams (no word spaces); others Unicode words, stop words dropped, Snowball-stemmed."""
    if language in ("", "en"):
        return tokenize(text)
    lowered = text.lower()
    if language == "zh":
        tokens: list[str] = []
        for run in _HAN_RUN_RE.findall(lowered):
            if len(run) == 1:
                tokens.append(run)
            else:
                tokens.extend(run[i : i + 2] for i in range(len(run) - 1))
        # Latin words inside Chinese text (Bluetooth, HDMI, Smart Hub) as English tokens.
        tokens.extend(tokenize(_HAN_RUN_RE.sub(" ", lowered)))
        return tokens
    stop = _LANG_STOP_SETS.get(language, frozenset())
    words = [w for w in _UNICODE_WORD_RE.findall(lowered) if w not in stop and not w.isdigit()]
    stemmer = _language_stemmer(language)
    return stemmer.stemWords(words) if stemmer is not None else words


def stem_words(words: list[str]) -> list[str]:
    """The stems `tokenize` would give these lower-cased words (stop words included)."""
    stemmer = _stemmer()
    return stemmer.stemWords(words) if stemmer is not None else words


class LexicalIndex:
    """bm25s index whose rows map to chunk ids; `public_mask` marks public chunks.

    `language` names the analysis (`tokenize_for`) of both the indexed texts and the queries.
    """

    def __init__(
        self, retriever, chunk_ids: np.ndarray, public_mask: np.ndarray, language: str = "en"
    ):
        self.retriever = retriever
        self.chunk_ids = np.asarray(chunk_ids, dtype=np.int64)
        self.public_mask = np.asarray(public_mask, dtype=np.float32)
        self.language = language

    @classmethod
    def build(
        cls, texts: list[str], chunk_ids: list[int], public: list[bool], *, language: str = "en"
    ) -> LexicalIndex:
        """Index the texts (already including title and headings) in `language`'s analysis."""
        return cls.build_from_tokens(
            [tokenize_for(t, language) for t in texts], chunk_ids, public, language=language
        )

    @classmethod
    def build_from_tokens(
        cls,
        tokens: list[list[str]],
        chunk_ids: list[int],
        public: list[bool],
        *,
        language: str = "en",
    ) -> LexicalIndex:
        """Index texts already tokenized (`tokenize_for(text, language)`): one tokenization
        serves two indexes."""
        bm25s = _import_bm25s()

        retriever = None
        if tokens:
            retriever = bm25s.BM25()
            retriever.index(tokens, show_progress=False)
        return cls(
            retriever,
            np.array(chunk_ids, dtype=np.int64),
            np.array(public, dtype=bool),
            language=language,
        )

    def __len__(self) -> int:
        return len(self.chunk_ids)

    def search(self, query: str, *, k: int, public_only: bool) -> tuple[np.ndarray, np.ndarray]:
        """(scores, chunk_ids) of the best k chunks with a positive BM25 score, best first."""
        empty = (np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64))
        tokens = tokenize_for(query, self.language)
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
        (folder / "lexical.json").write_text(
            json.dumps({"empty": self.retriever is None, "language": self.language})
        )
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
            language=info.get("language", "en"),
        )
