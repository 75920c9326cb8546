"""The second ranking stage: re-score the fused top candidates over per-article features.

No cross-encoder ships in an installable package here, so the second stage is a linear model
(logistic regression, fitted on the DEV sets by cross-validation, see
bench/bench_retrieval_quality.py) over features the first stage already has or can compute
cheaply for ~20 candidates: the lexical and dense scores and ranks, and field-aware term
coverage (title, heading path and the article's first words apart from the body: help-center
questions reuse section-title words). The weights live in `rescoring_weights.json` beside
this module and are refitted by the bench; a deployment with a cross-encoder plugs it in as
another `SecondStage` (see `retrieval.engine.get_second_stage`).

The order among the candidates comes from a second model over the same rows: gradient-boosted
trees fitted with LightGBM's lambdarank objective (`rescoring_order_model.json`, evaluated here
in numpy, so no LightGBM at run time). The linear model's logit stays each candidate's score:
it is calibrated across questions (the abstention model reads it), while lambdarank scores are
only comparable within one question. (Out-of-fold 2026-12-02, trees' size chosen by a nested
cross-validation: TV hit@1 0.733 -> 0.762, nDCG@10 0.844 -> 0.867, S10 hit@1 0.897 -> 0.931;
bench/results/answer_models.json "rescorer".)
"""

from __future__ import annotations

import functools
import itertools
import json
import math
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from retrieval.index import ChunkMeta
from retrieval.lexical import tokenize
from retrieval.store import SearchableIndex

WEIGHTS_FILE = Path(__file__).with_name("rescoring_weights.json")
ORDER_MODEL_FILE = Path(__file__).with_name("rescoring_order_model.json")
# Leading words of an article that act as its lead/heading (manual sections start with it).
LEAD_WORDS = 24

# Features also given as the gap to the best candidate's value for the same query: whether an
# article matches the title *best among the candidates* says more than the absolute match, and a
# linear model cannot compute a max over the list itself. (Added on 2026-12-01: out-of-fold TV
# hit@1 0.702 -> 0.737, S10 0.862 -> 0.931 with these and the four run/f1/length features; see
# bench/results/answer_models.json.)
RELATIVE = (
    "title_cov",
    "title_prec",
    "title_f1",
    "lead_cov",
    "window_cov",
    "bigram_cov",
    "title_run",
    "body_run",
    "body_cov",
)

FEATURES = (
    "lexical_rel",  # best chunk BM25 / the query's best BM25
    "lexical_log",  # log1p(best chunk BM25)
    "dense",  # best chunk cosine
    "dense_rel",  # best chunk cosine - the query's best cosine
    "lexical_rank",  # 1 / (1 + rank among lexical candidates)
    "dense_rank",  # 1 / (1 + rank among dense candidates)
    "title_cov",  # idf-weighted share of the query's terms in the title
    "title_prec",  # share of the title's terms found in the query
    "lead_cov",  # ... in the heading path and the article's first words
    "body_cov",  # ... anywhere in the article
    "bigram_cov",  # share of the query's adjacent term pairs found adjacent in the article
    "missing_idf",  # idf mass of query terms found nowhere in the article / query idf mass
    "window_cov",  # the best coverage by WINDOW_SENTENCES consecutive sentences (locality)
    "title_run",  # longest run of the query's tokens found in order in the title / query length
    "body_run",  # ... in the article's text (a phrase of the question quoted by the article)
    "title_f1",  # harmonic mean of title_cov and title_prec (the title *is* the question's topic)
    "log_length",  # log(1 + the article's term count): long sections cover more questions
    *(f"{name}_gap" for name in RELATIVE),
)
WINDOW_SENTENCES = 3
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+|\n+")


class SecondStage(Protocol):
    """Re-orders the first stage's best articles for a query (best first)."""

    name: str

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[tuple[int, float]]:
        """(article_id, score) best first, for the given candidates."""
        ...


@dataclass
class Candidate:
    """One article as the first stage saw it: its chunks' best scores and ranks."""

    article_id: int
    chunk_ids: list[int]
    lexical: float | None
    dense: float | None
    lexical_rank: int | None
    dense_rank: int | None


@dataclass(frozen=True)
class _ArticleTerms:
    title: frozenset[str]
    lead: frozenset[str]
    body: frozenset[str]
    bigrams: frozenset[tuple[str, str]]
    # term -> the windows (of WINDOW_SENTENCES sentences) that hold it: window_cov sums the
    # query terms' weights per window from these postings instead of testing every window
    # (20 candidates x ~50 windows per query cost ~10 ms that way).
    window_postings: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    title_tokens: tuple[str, ...] = ()
    title_positions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    body_positions: Mapping[str, tuple[int, ...]] = field(default_factory=dict)
    body_tokens: tuple[str, ...] = ()


class ArticleStats:
    """Per-article term sets and article-level document frequencies of one snapshot."""

    def __init__(self, chunks: Mapping[int, ChunkMeta], *, public_only: bool) -> None:
        by_article: dict[int, list[ChunkMeta]] = {}
        for meta in chunks.values():
            if public_only and meta.visibility != "public":
                continue  # public statistics never depend on internal text
            by_article.setdefault(meta.article_id, []).append(meta)
        self.terms: dict[int, _ArticleTerms] = {}
        df: dict[str, int] = {}
        for article_id, metas in by_article.items():
            metas.sort(key=lambda m: m.position)
            body_tokens: list[str] = []
            sentences: list[frozenset[str]] = []
            for meta in metas:
                body_tokens += tokenize(meta.text)
                sentences += [frozenset(tokenize(s)) for s in _SENTENCE_RE.split(meta.text)]
            postings: dict[str, list[int]] = {}
            for i in range(max(1, len(sentences) - WINDOW_SENTENCES + 1)):
                for term in frozenset().union(*sentences[i : i + WINDOW_SENTENCES]):
                    postings.setdefault(term, []).append(i)
            lead = tokenize(metas[0].heading_path) + tokenize(
                " ".join(metas[0].text.split()[:LEAD_WORDS])
            )
            title_tokens = tuple(tokenize(metas[0].title))
            title = frozenset(title_tokens)
            body = frozenset(body_tokens) | title
            positions = _positions(body_tokens)
            self.terms[article_id] = _ArticleTerms(
                title=title,
                lead=frozenset(lead) | title,
                body=body,
                bigrams=frozenset(itertools.pairwise(body_tokens)),
                window_postings={t: tuple(w) for t, w in postings.items()},
                title_tokens=title_tokens,
                title_positions={t: tuple(p) for t, p in _positions(title_tokens).items()},
                body_positions={t: tuple(p) for t, p in positions.items()},
                body_tokens=tuple(body_tokens),
            )
            for term in body:
                df[term] = df.get(term, 0) + 1
        n = max(len(by_article), 1)
        self.idf = {t: math.log(1 + n / c) for t, c in df.items()}
        self.unseen_idf = math.log(1 + n)


_stats_cache: dict[tuple[str, bool], ArticleStats] = {}
_stats_lock = threading.Lock()


def article_stats(snapshot: SearchableIndex, *, public_only: bool) -> ArticleStats:
    """The snapshot's ArticleStats, computed once per version and audience."""
    key = (f"{snapshot.version}:{id(snapshot.chunks)}", public_only)
    with _stats_lock:
        stats = _stats_cache.get(key)
    if stats is None:
        stats = ArticleStats(snapshot.chunks, public_only=public_only)
        with _stats_lock:
            if len(_stats_cache) > 8:
                _stats_cache.clear()
            _stats_cache[key] = stats
    return stats


def _coverage(q_terms: Sequence[str], weights: Sequence[float], found: frozenset[str]) -> float:
    total = sum(weights) or 1.0
    return sum(w for t, w in zip(q_terms, weights, strict=True) if t in found) / total


def _best_window(
    q_terms: Sequence[str], weights: Sequence[float], postings: Mapping[str, tuple[int, ...]]
) -> float:
    """The best idf-weighted query coverage of one window (the same as testing each window)."""
    per_window: dict[int, float] = {}
    for term, weight in zip(q_terms, weights, strict=True):
        for window in postings.get(term, ()):
            per_window[window] = per_window.get(window, 0.0) + weight
    return max(per_window.values(), default=0.0) / (sum(weights) or 1.0)


def _longest_run(
    query: Sequence[str], text: Sequence[str], positions: Mapping[str, Sequence[int]]
) -> int:
    """The longest run of consecutive query tokens that occurs, in order, in `text`."""
    best = 0
    for i, token in enumerate(query):
        for j in positions.get(token, ()):
            k = 1
            while i + k < len(query) and j + k < len(text) and query[i + k] == text[j + k]:
                k += 1
            best = max(best, k)
    return best


def _positions(tokens: Sequence[str]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for i, token in enumerate(tokens):
        out.setdefault(token, []).append(i)
    return out


def features(
    query: str, candidates: Sequence[Candidate], stats: ArticleStats
) -> list[dict[str, float]]:
    """The feature rows of the candidates (same order), named as in FEATURES."""
    q_terms = list(dict.fromkeys(tokenize(query)))
    q_tokens = tokenize(query)
    weights = [stats.idf.get(t, stats.unseen_idf) for t in q_terms]
    q_bigrams = set(itertools.pairwise(q_tokens))
    best_lex = max((c.lexical for c in candidates if c.lexical is not None), default=0.0)
    best_dense = max((c.dense for c in candidates if c.dense is not None), default=0.0)
    rows = []
    for cand in candidates:
        terms = stats.terms.get(cand.article_id)
        if terms is None:
            terms = _ArticleTerms(frozenset(), frozenset(), frozenset(), frozenset())
        lexical = cand.lexical or 0.0
        dense = cand.dense if cand.dense is not None else 0.0
        body_cov = _coverage(q_terms, weights, terms.body)
        title_cov = _coverage(q_terms, weights, terms.title)
        title_prec = (len(terms.title & set(q_terms)) / len(terms.title)) if terms.title else 0.0
        q_len = max(len(q_tokens), 1)
        rows.append(
            {
                "lexical_rel": lexical / best_lex if best_lex > 0 else 0.0,
                "lexical_log": math.log1p(max(lexical, 0.0)),
                "dense": dense,
                "dense_rel": (dense - best_dense) if cand.dense is not None else -0.5,
                "lexical_rank": 0.0 if cand.lexical_rank is None else 1 / (1 + cand.lexical_rank),
                "dense_rank": 0.0 if cand.dense_rank is None else 1 / (1 + cand.dense_rank),
                "title_cov": title_cov,
                "title_prec": title_prec,
                "lead_cov": _coverage(q_terms, weights, terms.lead),
                "body_cov": body_cov,
                "bigram_cov": (len(q_bigrams & terms.bigrams) / len(q_bigrams))
                if q_bigrams
                else 0.0,
                "missing_idf": 1.0 - body_cov,
                "window_cov": _best_window(q_terms, weights, terms.window_postings),
                "title_run": _longest_run(q_tokens, terms.title_tokens, terms.title_positions)
                / q_len,
                "body_run": _longest_run(q_tokens, terms.body_tokens, terms.body_positions) / q_len,
                "title_f1": 2 * title_cov * title_prec / (title_cov + title_prec)
                if title_cov + title_prec > 0
                else 0.0,
                "log_length": math.log1p(len(terms.body_tokens)),
            }
        )
    for name in RELATIVE:
        best = max((row[name] for row in rows), default=0.0)
        for row in rows:
            row[f"{name}_gap"] = row[name] - best
    return rows


def ranking_signals(
    query: str,
    rescored_order: Sequence[tuple[int, float]],
    stats: ArticleStats | None,
    top_features: Mapping[str, float] | None,
) -> dict[str, float]:
    """What the abstention model reads from one ranking (engine and fit alike).

    The second stage's top logit, its margin and how the logits spread over the candidates
    (a question the KB lacks gets several middling candidates, not one clear one); with the
    feature stage's statistics also the top article's feature row (`top_features`, as the
    stage computed it) and how much of the question
    the knowledge base has at all: question words no article uses, the rarest question word in
    the top article, the best coverage among the top three and the coverage of the top five
    together, and the KB's size. Added on 2026-12-02 with small KBs in the fit: out-of-fold
    abstention TV 54% -> 56% (8.3% -> 8.6% answerable refused), S10 62% -> 76% (3.4% -> 0%),
    two-article KBs 91% at 4.7% (bench/results/answer_models.json).
    """
    if not rescored_order:
        return {}
    logits = [score for _, score in rescored_order]
    top = logits[0]
    signals: dict[str, float] = {
        "top_logit": top,
        "margin": top - logits[1] if len(logits) > 1 else 5.0,
        "mean_top3_logit": sum(logits[:3]) / len(logits[:3]),
    }
    weights = [math.exp(z - top) for z in logits]
    total = sum(weights)
    signals["top_softmax"] = 1.0 / total
    signals["logit_entropy"] = -sum((w / total) * math.log(w / total) for w in weights)
    if stats is None:
        return signals
    order = [article_id for article_id, _ in rescored_order]
    signals.update(top_features or {})
    q_terms = list(dict.fromkeys(tokenize(query)))
    if not q_terms:
        return signals
    idf = {t: stats.idf.get(t, stats.unseen_idf) for t in q_terms}
    mass = sum(idf.values()) or 1.0
    empty: frozenset[str] = frozenset()
    bodies = [stats.terms[a].body if a in stats.terms else empty for a in order[:5]]
    signals["unknown_term_idf"] = sum(w for t, w in idf.items() if t not in stats.idf) / mass
    signals["top3_body_cov"] = max(
        sum(w for t, w in idf.items() if t in body) / mass for body in bodies[:3]
    )
    together = frozenset().union(*bodies)
    signals["top5_body_cov"] = sum(w for t, w in idf.items() if t in together) / mass
    # A word no article uses is rarer than any the KB has (their idf can tie at df=1).
    rarest = max(q_terms, key=lambda t: (t not in stats.idf, idf[t]))
    signals["rarest_term_in_top"] = float(rarest in bodies[0])
    signals["log_articles"] = math.log1p(len(stats.terms))
    return signals


@dataclass(frozen=True)
class LinearWeights:
    """Standardisation and logistic-regression coefficients, one per feature."""

    names: tuple[str, ...]
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    coef: tuple[float, ...]
    intercept: float
    source: str = ""

    def score(self, row: Mapping[str, float]) -> float:
        """The model's logit for one feature row."""
        z = self.intercept
        for name, mu, sd, w in zip(self.names, self.mean, self.scale, self.coef, strict=True):
            z += w * (row.get(name, 0.0) - mu) / (sd or 1.0)
        return z

    def to_dict(self) -> dict:
        return {
            "names": list(self.names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "coef": list(self.coef),
            "intercept": self.intercept,
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> LinearWeights:
        return cls(
            names=tuple(data["names"]),
            mean=tuple(float(x) for x in data["mean"]),
            scale=tuple(float(x) for x in data["scale"]),
            coef=tuple(float(x) for x in data["coef"]),
            intercept=float(data["intercept"]),
            source=str(data.get("source", "")),
        )


@functools.lru_cache(maxsize=4)
def load_weights(path: str = str(WEIGHTS_FILE)) -> LinearWeights:
    """The shipped (or given) weights file."""
    return LinearWeights.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


@dataclass(frozen=True)
class BoostedTrees:
    """A sum of regression trees (LightGBM's dump, flattened): all trees walk all rows at once.

    Node arrays are shared by every tree; `roots` holds each tree's first node. An internal
    node sends a row left when its feature value is <= the threshold (the only decision the
    fit exports: it refuses models with categorical splits or missing-value routing); a leaf
    has feature -1 and its value in `value`.
    """

    names: tuple[str, ...]
    roots: np.ndarray
    feature: np.ndarray
    threshold: np.ndarray
    left: np.ndarray
    right: np.ndarray
    value: np.ndarray
    depth: int
    source: str = ""

    def scores(self, rows: Sequence[Mapping[str, float]]) -> list[float]:
        """The model's score for each feature row (only the order within a question means
        anything)."""
        if not rows:
            return []
        x = np.array([[row.get(n, 0.0) for n in self.names] for row in rows], dtype=np.float64)
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
        row_index = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            feature = self.feature[node]
            inner = feature >= 0
            if not inner.any():
                break
            goes_left = x[row_index, np.maximum(feature, 0)] <= self.threshold[node]
            node = np.where(inner, np.where(goes_left, self.left[node], self.right[node]), node)
        return self.value[node].sum(axis=1).tolist()

    def to_dict(self) -> dict:
        return {
            "kind": "boosted-trees",
            "names": list(self.names),
            "depth": self.depth,
            "roots": self.roots.tolist(),
            "feature": self.feature.tolist(),
            "threshold": self.threshold.tolist(),
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": self.value.tolist(),
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> BoostedTrees:
        """Load `to_dict`'s output; a file of another kind, or with node arrays that do not
        line up, is refused with what is wrong (a truncated copy would otherwise index past
        its arrays mid-request, or score every candidate 0 and silently keep the first stage's
        order)."""
        if data.get("kind") != "boosted-trees":
            raise ValueError(
                f"not a boosted-trees ordering model (kind={data.get('kind')!r}); "
                "regenerate it with `make fit` or set RESCORE_ORDER_MODEL=linear"
            )
        sizes = {key: len(data[key]) for key in ("feature", "threshold", "left", "right", "value")}
        nodes = sizes["feature"]
        if len(set(sizes.values())) != 1 or not data["roots"] or nodes == 0:
            raise ValueError(f"ordering model's node arrays do not line up: {sizes}")
        for key in ("roots", "left", "right"):
            if any(not 0 <= int(i) < nodes for i in data[key]):
                raise ValueError(f"ordering model's {key!r} points outside its {nodes} nodes")
        if any(int(f) >= len(data["names"]) for f in data["feature"]):
            raise ValueError("ordering model splits on a feature it does not name")
        return cls(
            names=tuple(data["names"]),
            roots=np.array(data["roots"], dtype=np.int64),
            feature=np.array(data["feature"], dtype=np.int64),
            threshold=np.array(data["threshold"], dtype=np.float64),
            left=np.array(data["left"], dtype=np.int64),
            right=np.array(data["right"], dtype=np.int64),
            value=np.array(data["value"], dtype=np.float64),
            depth=int(data["depth"]),
            source=str(data.get("source", "")),
        )

    @classmethod
    def from_lightgbm_dump(cls, dump: Mapping, *, source: str = "") -> BoostedTrees:
        """Flatten `Booster.dump_model()`; refuses splits this evaluator does not replay."""
        feature: list[int] = []
        threshold: list[float] = []
        left: list[int] = []
        right: list[int] = []
        value: list[float] = []
        depth = 0

        def add(node: Mapping, level: int) -> int:
            nonlocal depth
            depth = max(depth, level)
            index = len(feature)
            feature.append(-1)
            threshold.append(0.0)
            left.append(index)
            right.append(index)
            value.append(float(node.get("leaf_value", 0.0)))
            if "split_feature" in node:
                if node.get("decision_type") != "<=" or node.get("missing_type") not in (
                    None,
                    "None",
                ):
                    raise ValueError(f"unsupported split in the model: {dict(node)}")
                feature[index] = int(node["split_feature"])
                threshold[index] = float(node["threshold"])
                left[index] = add(node["left_child"], level + 1)
                right[index] = add(node["right_child"], level + 1)
            return index

        roots = [add(tree["tree_structure"], 0) for tree in dump["tree_info"]]
        return cls(
            names=tuple(dump["feature_names"]),
            roots=np.array(roots, dtype=np.int64),
            feature=np.array(feature, dtype=np.int64),
            threshold=np.array(threshold, dtype=np.float64),
            left=np.array(left, dtype=np.int64),
            right=np.array(right, dtype=np.int64),
            value=np.array(value, dtype=np.float64),
            depth=depth,
            source=source,
        )


@functools.lru_cache(maxsize=4)
def load_order_model(path: str = str(ORDER_MODEL_FILE)) -> BoostedTrees:
    """The shipped (or given) ordering model."""
    return BoostedTrees.from_dict(json.loads(Path(path).read_text(encoding="utf-8")))


def sigmoid(z: float) -> float:
    if z < -30:
        return 0.0
    return 1.0 / (1.0 + math.exp(-z))


class FeatureRescorer:
    """The default second stage over `features`: candidates in the order of the boosted trees
    (`order`; None keeps the linear model's order), each scored by the linear model's logit."""

    name = "features-lr"

    def __init__(
        self,
        stats: ArticleStats,
        weights: LinearWeights | None = None,
        order: BoostedTrees | None = None,
    ) -> None:
        self.stats = stats
        self.weights = weights or load_weights()
        self.order = order

    def rerank(self, query: str, candidates: Sequence[Candidate]) -> list[tuple[int, float]]:
        return self.rerank_with_features(query, candidates)[0]

    def rerank_with_features(
        self, query: str, candidates: Sequence[Candidate]
    ) -> tuple[list[tuple[int, float]], dict[int, dict[str, float]]]:
        """The ranking, and each candidate's feature row by article id (the engine hands the
        top one to `ranking_signals` instead of computing it again)."""
        rows = features(query, candidates, self.stats)
        logits = [self.weights.score(row) for row in rows]
        keys = self.order.scores(rows) if self.order is not None else logits
        by_key = sorted(range(len(rows)), key=lambda i: (keys[i], logits[i]), reverse=True)
        scored = [(candidates[i].article_id, logits[i]) for i in by_key]
        by_id = {c.article_id: row for c, row in zip(candidates, rows, strict=True)}
        return scored, by_id
