"""The safety classifier (plain module, no database) and its hook in the answer pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from generation import safety
from generation.services import ABSTAIN_TEXT, answer_question, answer_question_stream
from tests.generation.conftest import hit, result

REPO = Path(__file__).resolve().parents[2]
SAFETY_SET = REPO / "bench" / "data" / "safety_questions.jsonl"
HOLDOUT_SET = REPO / "bench" / "data" / "safety_holdout.jsonl"
EVAL_DIR = REPO.parent / "shared" / "eval"


def _rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(autouse=True)
def _defaults_only():
    """These tests judge the built-in rules, whatever a database would hold."""
    safety.set_providers(ruleset=None, response=None)
    yield
    from generation import safety_store

    safety_store.install()


def test_the_set_is_big_and_varied_enough():
    rows = _rows(SAFETY_SET)
    assert len(rows) >= 60
    assert sum(r["hazard"] for r in rows) >= 40 and sum(not r["hazard"] for r in rows) >= 40
    assert {"en", "es", "de", "fr", "zh"} <= {r["language"] for r in rows if r["hazard"]}
    assert {r["style"] for r in rows} >= {"direct", "indirect", "lookalike"}


@pytest.mark.parametrize("row", _rows(SAFETY_SET), ids=lambda r: r["id"])
def test_every_hazard_is_handed_off_and_every_benign_question_answered(row):
    verdict = safety.assess(row["question"])
    assert verdict.hazard is row["hazard"], (row["question"], verdict)
    if row["hazard"]:
        assert verdict.language == row["language"]  # the safety response is in their language
        assert verdict.rule and verdict.confidence >= 0.6


@pytest.mark.skipif(not EVAL_DIR.exists(), reason="the shared eval sets are not beside the repo")
@pytest.mark.parametrize("dataset", ["emanual-samsung-tv", "emanual-samsung-s10"])
def test_no_manual_question_of_the_dev_sets_is_taken_for_a_hazard(dataset):
    path = EVAL_DIR / dataset / "queries.jsonl"
    flagged = [q["text"] for q in map(json.loads, path.read_text().splitlines())
               if safety.assess(q["text"]).hazard]  # fmt: skip
    assert flagged == []


@pytest.mark.parametrize(
    "question, category",
    [
        ("My Fire TV stick is smoking", "fire_smoke"),  # the mask removes "Fire TV" only
        ("the burn-in got worse and now it smells burnt", "burning_smell"),
        ("my new TV smells like burning plastic", "burning_smell"),  # strong: not suppressed
        ("the TV fell off the wall and landed on my son", "tip_over"),
        ("Is it normal that my new TV smells burnt?", "burning_smell"),
    ],
)
def test_look_alike_words_do_not_hide_a_real_hazard(question, category):
    verdict = safety.assess(question)
    assert verdict.hazard and verdict.category == category


def test_benign_context_suppresses_only_weak_matches_of_its_category():
    weak = safety.assess("there is a strange smell from the back of the TV")
    assert weak.hazard and weak.confidence < 0.7
    new = safety.assess("my brand new TV has a strange smell from the back")
    assert not new.hazard
    assert new.suppressed_by == "benign-new-tv-smell" and new.matched


def test_reply_language_and_response_text():
    verdict = safety.assess("Mein Fernseher riecht verbrannt")
    assert verdict.hazard and verdict.language == "de"
    answer = safety.handoff_answer("Mein Fernseher riecht verbrannt", verdict)
    assert answer.text == safety.DEFAULT_RESPONSES["de"] and "Netzstecker" in answer.text
    assert answer.abstained and answer.handoff_reason == "safety" and not answer.citations
    assert answer.safety["category"] == "burning_smell"
    assert safety.response_text("xx") == safety.DEFAULT_RESPONSES["en"]


def test_every_supported_language_has_a_response_that_says_what_to_do():
    assert set(safety.DEFAULT_RESPONSES) == set(safety.LANGUAGES)
    en = safety.DEFAULT_RESPONSES["en"]
    for phrase in ("Stop using", "unplug", "smoke or fire", "emergency", "support team"):
        assert phrase in en


def test_normalisation_folds_case_and_latin_accents_but_keeps_hangul_and_kana():
    assert safety.normalize("  De la FUMÉE   sort ") == "de la fumee sort"
    assert safety.normalize("타는 냄새") == "타는 냄새"
    assert safety.normalize("バッテリー") == "バッテリー"


def test_a_rule_that_does_not_compile_is_skipped_and_reported():
    ruleset = safety.RuleSet.build(
        [
            safety.SafetyRule(name="broken", category="fire_smoke", pattern="(unclosed"),
            safety.SafetyRule(name="smoke", category="fire_smoke", pattern=r"\bsmoke\b"),
        ]
    )
    assert ruleset.errors and ruleset.errors[0].startswith("broken")
    assert safety.assess("smoke everywhere", ruleset=ruleset).rule == "smoke"


def test_empty_and_emoji_questions_are_not_hazards():
    assert not safety.assess("").hazard
    assert not safety.assess("🙂🙂").hazard
    assert safety.assess("🔥🔥 smoke coming out 🔥").hazard


def test_pipeline_hands_a_hazard_off_without_manual_text():
    # Retrieval would answer confidently from the manual ("This smell is normal ..."): the
    # issue's own example. The safety check runs first, so none of it reaches the customer.
    manual = result(
        "q",
        [hit(1, "Troubleshooting", "The TV smells of plastic. This smell is normal and will "
             "dissipate over time.", score=0.95)],
        confidence=0.95,
    )  # fmt: skip
    question = "My TV smells burnt and the screen went black"
    answer = answer_question(question, audience="public", search_result=manual)
    assert answer.abstained and answer.handoff_reason == "safety"
    assert answer.text == safety.DEFAULT_RESPONSES["en"]
    assert "dissipate" not in answer.text and answer.citations == [] and answer.hits == []
    assert answer.backend == "safety" and answer.safety["rule"] == "en-burning-smell"
    events = list(answer_question_stream(question, audience="public", search_result=manual))
    assert events[0].type == "meta" and events[0].data["hits"] == []
    assert "".join(e.data["text"] for e in events if e.type == "token") == answer.text
    assert events[-1].data["answer"]["handoff_reason"] == "safety"


def test_ordinary_smell_question_is_still_answered_from_the_manual():
    manual = result(
        "q",
        [hit(1, "Troubleshooting", "The TV smells of plastic. This smell is normal and will "
             "dissipate over time.", score=0.95)],
        confidence=0.95,
    )  # fmt: skip
    question = "Why the TV smells of plastic?"
    answer = answer_question(question, audience="public", search_result=manual)
    assert not answer.abstained and answer.handoff_reason == "" and "[1]" in answer.text


def test_low_confidence_abstention_says_why(settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 1.01
    manual = result("q", [hit(1, "Wi-Fi", "Open Settings and choose Network.")], confidence=0.3)
    answer = answer_question("How do I connect to Wi-Fi?", audience="public", search_result=manual)
    assert answer.abstained and answer.text == ABSTAIN_TEXT
    assert answer.handoff_reason == "low_confidence"
