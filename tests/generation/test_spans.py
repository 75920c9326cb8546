"""The span answerer: the passage of the best source that answers the question."""

from __future__ import annotations

import re

from generation import spans
from generation.extractive import compose_answer, extractive_answer, split_compound
from generation.prompts import Source
from generation.text import content_terms

CLOCK = (
    "#### Setting the clock\n\n"
    "Settings > General > System Manager > Time > Clock. You can set the Clock manually or "
    "automatically. Once the Clock is set, you can view the current time on the TV anytime.\n\n"
    "#### Setting the sleep timer\n\n"
    "Settings > General > System Manager > Time > Sleep Timer. You can use this function to "
    "automatically shut off the TV after a preset period of time. You can set the timer for "
    "up to 180 minutes."
)
PAIRING = (
    "To pair the remote, point it at the TV and hold Back and Play for 3 seconds.\n\n"
    "1. Turn on the TV.\n2. Hold Back and Play.\n3. Wait for the pairing message."
)


def _src(number: int, title: str, text: str) -> Source:
    return Source(number, number, number * 10, title, title.lower(), "", text)


def test_units_keep_list_items_and_headings() -> None:
    units = spans.source_units(PAIRING)
    assert [u.kind for u in units] == ["sentence", "item", "item", "item"]
    assert units[1].number == "1"
    clock = spans.source_units(CLOCK)
    assert clock[0].heading == "Setting the clock" and clock[0].after_heading
    assert all("####" not in u.text for u in clock)


def test_the_passage_of_the_matching_section_is_the_answer() -> None:
    # Chunks follow the article's headings (heading_path), as the chunker writes them.
    clock, sleep = CLOCK.split("#### Setting the sleep timer")
    sources = [
        Source(1, 7, 70, "Time", "time", "Setting the clock", clock.split("\n\n", 1)[1]),
        Source(2, 7, 71, "Time", "time", "Setting the sleep timer", sleep.strip()),
    ]
    answer = extractive_answer("How do I set the sleep timer?", sources)
    assert answer.startswith("Settings > General > System Manager > Time > Sleep Timer")
    assert "[2]" in answer and "[1]" not in answer
    assert "manually or automatically" not in answer  # the clock part is not what was asked


def test_steps_render_as_a_list_and_every_word_comes_from_the_source() -> None:
    answer = extractive_answer(
        "What are the steps to pair the remote?", [_src(1, "Pairing the remote", PAIRING)]
    )
    assert re.search(r"^1\. Turn on the TV", answer, re.MULTILINE)
    assert re.search(r"^3\. Wait for the pairing message", answer, re.MULTILINE)
    source_terms = set(content_terms(PAIRING))
    assert set(content_terms(re.sub(r"\[\d+\]", "", answer))) <= source_terms


def test_compound_questions_get_one_passage_per_part() -> None:
    assert split_compound("How do I set the clock and how do I pair the remote?") == [
        "How do I set the clock",
        "how do I pair the remote",
    ]
    assert split_compound("How do I set the clock?") == ["How do I set the clock?"]
    composed = compose_answer(
        "How do I set the sleep timer and how do I pair the remote?",
        [_src(1, "Time", CLOCK), _src(2, "Pairing the remote", PAIRING)],
    )
    assert {s.source.number for s in composed.spans} == {1, 2}
    assert "[1]" in composed.text and "[2]" in composed.text


def test_features_are_finite_and_named() -> None:
    candidates = spans.candidate_spans(_src(1, "Time", CLOCK))
    spans.score_features("sleep timer", candidates)
    for span in candidates:
        assert set(span.features) >= set(spans.SPAN_FEATURES) - {"cos", "cos_first"}
        assert all(abs(v) < 1e6 for v in span.features.values())
    assert max(s.features["cov"] for s in candidates) == 1.0
