"""How likely the knowledge base answers a question: the abstention model (no ORM).

A logistic regression over real signals: the second ranking stage's logit for the top article
and its margin over the runner-up, the top article's coverage of the question's terms per
field (title, lead, body, adjacent pairs), its dense cosine and BM25 score, and how well the
best answer passage covers the question. Fitted by bench/fit_answer_models.py on the DEV sets,
answerable questions against the same questions asked of an index without their articles; the
thresholds (ANSWER_MIN_CONFIDENCE_PUBLIC / _INTERNAL defaults) come from the same fit.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

WEIGHTS_FILE = Path(__file__).with_name("confidence_weights.json")


def confidence_features(signals: Mapping[str, float], span: Any) -> dict[str, float]:
    """The model's inputs from a search's `signals` and the chosen span (or None)."""
    row = {name: float(signals.get(name, 0.0)) for name in _SIGNAL_NAMES}
    if "top_logit" not in signals:
        row["top_logit"] = -10.0
    if "mean_top3_logit" not in signals:
        row["mean_top3_logit"] = row["top_logit"]
    features = getattr(span, "features", None) or {}
    row["span_cov"] = float(features.get("cov", 0.0))
    row["span_cov_first"] = float(features.get("cov_first", 0.0))
    row["span_density"] = float(features.get("density", 0.0))
    return row


_SIGNAL_NAMES = (
    "top_logit",
    "margin",
    "body_cov",
    "missing_idf",
    "title_cov",
    "lead_cov",
    "bigram_cov",
    "dense",
    "lexical_log",
    # Whether the top article's title *is* the question's topic and whether it quotes a phrase
    # of the question (added with the second stage's features of the same names, 2026-12-01).
    "title_f1",
    "title_run",
    "body_run",
    "window_cov",
    # How well the runners-up match too: a question the KB lacks often gets several middling
    # candidates rather than one clear one (out-of-fold TV abstention 48% -> 53% at the same
    # false refusals, 2026-12-02).
    "mean_top3_logit",
    # How the logits spread over all candidates and how much of the question the KB holds at
    # all (retrieval.rescoring.ranking_signals; 2026-12-02), and the KB's size: the fit also
    # sees small knowledge bases (2-40 articles), whose idf and BM25 scales differ.
    "top_softmax",
    "logit_entropy",
    "unknown_term_idf",
    "top3_body_cov",
    "top5_body_cov",
    "rarest_term_in_top",
    "log_articles",
)
# Every input of the model, in the order the fit stores them.
FEATURES = (*_SIGNAL_NAMES, "span_cov", "span_cov_first", "span_density")


@functools.lru_cache(maxsize=4)
def load_weights(path: str = str(WEIGHTS_FILE)) -> dict[str, Any]:
    """The shipped confidence model (names, standardisation, coefficients, thresholds)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def applies_to(embedding_model_id: str) -> bool:
    """Was the model fitted with dense signals like this embedder's? Its dense features were
    measured with the packaged MiniLM (torch, or its ONNX export: cosine 0.99 to it); the
    hash-based fake embedder's cosines carry no meaning, and no embedder means no dense leg."""
    return bool(embedding_model_id) and not embedding_model_id.startswith("fake:")


def fitted_threshold(audience: str) -> float:
    """The threshold the fit chose for this audience ('public' or 'internal')."""
    return float(load_weights()["thresholds"][audience])


def confidence(signals: Mapping[str, float], span: Any) -> float:
    """0..1: the probability that the question is answerable from what was found."""
    if not signals:
        return 0.0
    model = load_weights()
    row = confidence_features(signals, span)
    z = float(model["intercept"])
    for name, mu, sd, w in zip(
        model["names"], model["mean"], model["scale"], model["coef"], strict=True
    ):
        z += w * (row.get(name, 0.0) - mu) / (sd or 1.0)
    if z < -30:
        return 0.0
    return round(1.0 / (1.0 + math.exp(-z)), 4)
