"""Cross-lingual query translation through the KB's own words (no ORM).

multilingual-e5 puts a word and its translations close together ("imagen", "Bild", "图像" near
"picture"). Every index version keeps the KB's English vocabulary (words seen at least twice)
with their e5 query vectors; a question in another language is rewritten word by word into the
nearest KB words, and that English rewrite runs through the English search (BM25, MiniLM,
second stage), whose ranking is fused with the multilingual leg's. Only words the KB uses can
come out, so a rewrite never invents vocabulary; on the DEV TV questions it lifted foreign
hit@5 from ~0.70 to ~0.82 (bench/bench_multilingual.py).

Chinese has no spaces: a question is cut into words by jieba (its dictionary ships in the
package), and question words, pronouns and particles (如何, 什么, 可以, 吗, ...) are dropped:
word by word, e5 maps them onto English filler ("manual ways", "whether any isn") that only
blurs the rewrite. Each Chinese word keeps at most ZH_PER_WORD KB words. On the 60 DEV zh
questions (bench/bench_multilingual.py, KB words on e5's query side as an index build makes
them) this took zh hit@5 from 0.667 (character bigrams, 3 per word) to 0.767; the choice among
47 segmentation x parameter settings is noisy at 60 questions (2-fold CV of the choice itself:
0.683, fold-wise numbers in bench/results/multilingual.json). The engine then weighs the
Chinese rewrite 1.25 against the e5 leg and keeps KB words at similarity >= 0.85
(engine.MultilingualParams.chinese_translation_*; 3-fold CV hit@5 0.80): zh hit@5 0.817 on
the 60, and 0.844 -> 0.867 on 45 held-out Chinese questions the choice never saw.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from retrieval.lexical import _LANG_STOP_SETS, STOPWORDS

_ENGLISH_WORD_RE = re.compile(r"[a-z][a-z+\-]{2,}")
_UNICODE_WORD_RE = re.compile(r"\w+", re.UNICODE)
_HAN_RUN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+")
_LATIN_RE = re.compile(r"[A-Za-z][A-Za-z+\-]+")
MAX_QUERY_WORDS = 24  # a long question's first words carry it; each word is one embedding
# A Chinese word's nearest English KB words spread wider than a Spanish word's: two, not the
# engine's three (tuning harness: zh hit@5 0.767 at 2 for min similarity 0.75-0.82, 0.733 at 3).
ZH_PER_WORD = 2
# What a Chinese question asks with rather than about (question words, pronouns, particles,
# light verbs and prepositions): jieba keeps them as words, the KB has no English for them.
_ZH_FUNCTION_WORDS_TEXT = """
    如何 怎么 怎样 怎么样 怎么办 为什么 为何 什么 哪里 哪儿 哪个 哪些 在哪 在哪里 多少 几 是否
    能否 可否 可以 能够 能 会 要 想 需要 应该 吗 呢 吧 啊 呀 嘛 么 我 我们 我的 你 你们 您 您的
    他 她 它 它们 他们 的 地 得 了 着 过 和 与 及 以及 或 或者 还是 并 并且 而 而且 是 在 把 被
    将 用 使用 通过 对 从 给 让 向 到 于 为 由 请 告诉 一下 这 那 这个 那个 这些 那些 有 没有
    没 不 也 都 就 还 又 再 很 更 最 等 成 上 中 里 时 时候 一个 个 则 其 该 所 之 以 可 如果
    当 后 前 就会 每
"""
ZH_FUNCTION_WORDS = frozenset(_ZH_FUNCTION_WORDS_TEXT.split())


def kb_words(texts: list[str], *, min_count: int = 2, limit: int = 20_000) -> list[str]:
    """The KB's English content words seen at least `min_count` times (most frequent first)."""
    counts = Counter(
        w for text in texts for w in _ENGLISH_WORD_RE.findall(text.lower()) if w not in STOPWORDS
    )
    frequent = [w for w, c in counts.most_common() if c >= min_count]
    return sorted(frequent[:limit])


@lru_cache(maxsize=1)
def _chinese_tokenizer():
    """jieba's default tokenizer, loaded once (its dictionary: ~1 s, then cached on disk)."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)  # it announces every dictionary load otherwise
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer


def chinese_words(text: str) -> list[str]:
    """A Chinese question's content words (jieba), Latin-script names as they are (lower)."""
    words: list[str] = []
    for token in _chinese_tokenizer().lcut(text):
        token = token.strip()
        if _LATIN_RE.fullmatch(token):
            words.append(token.lower())
        elif len(token) >= 2 and _HAN_RUN_RE.fullmatch(token) and token not in ZH_FUNCTION_WORDS:
            words.append(token)
    return words


def query_words(text: str, language: str) -> list[str]:
    """The words of a foreign question to translate (Chinese: segmented by jieba)."""
    if language == "zh":
        words = chinese_words(text)
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
        if language == "zh":
            per_word = min(per_word, ZH_PER_WORD)
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
