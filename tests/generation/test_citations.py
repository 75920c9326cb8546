from __future__ import annotations

from generation.citations import (
    check_citations,
    cited_sentences,
    clean_markers,
    parse_markers,
    support,
)
from generation.prompts import Source

SOURCES = [
    Source(
        1,
        11,
        101,
        "Reset your password",
        "reset-password",
        "Account",
        "Click Forgot password on the sign-in page. We email you a reset link.",
    ),
    Source(2, 22, 202, "Invoices", "invoices", "", "Invoices are sent monthly by email."),
]


def test_parse_markers_single_and_multiple():
    assert parse_markers("Do it [1]. Then [1, 2] and [3;4].") == [[1], [1, 2], [3, 4]]


def test_out_of_range_and_zero_markers_are_dropped():
    text = "Click Forgot password [1, 7]. Invoices are monthly [9]. Something [0]."
    assert clean_markers(text, 2) == "Click Forgot password [1]. Invoices are monthly. Something."


def test_adjacent_markers_merge_and_variants_are_canonical():
    assert clean_markers("Done [1][2].", 2) == "Done [1, 2]."
    assert clean_markers("Done [source 2].", 2) == "Done [2]."


def test_leading_marker_belongs_to_previous_sentence():
    sentences = cited_sentences("Click Forgot password. [1] Invoices are monthly [2].")
    assert [(s.text, s.numbers) for s in sentences] == [
        ("Click Forgot password.", [1]),
        ("Invoices are monthly.", [2]),
    ]


def test_support_is_content_word_recall():
    assert support("Click Forgot password", "click the forgot password link") == 1.0
    assert support("Bananas are yellow", "click the forgot password link") == 0.0


def test_check_citations_maps_to_articles_and_scores_support():
    text = (
        "Click Forgot password on the sign-in page [1]. "
        "Invoices are sent monthly [2]. "
        "The moon is made of cheese [1]."
    )
    report = check_citations(text, SOURCES, min_support=0.5)
    by_number = {c.number: c for c in report.citations}
    assert by_number[1].article_id == 11 and by_number[1].chunk_id == 101
    assert by_number[1].slug == "reset-password" and by_number[1].heading_path == "Account"
    assert by_number[2].supported and by_number[2].support_score == 1.0
    # Source 1 backs one of its two sentences: the average falls.
    assert by_number[1].support_score < 1.0
    assert report.grounding_score == round(2 / 3, 4)


def test_uncited_sentences_lower_grounding_and_invalid_citations_vanish():
    report = check_citations("Invoices are sent monthly [5]. Bye.", SOURCES, min_support=0.5)
    assert report.citations == []
    assert "[5]" not in report.text
    assert report.grounding_score == 0.0
