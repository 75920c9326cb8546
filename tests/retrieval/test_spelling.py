"""Query spelling correction: only the knowledge base's own (audience's) words, one edit away."""

from __future__ import annotations

import pytest

from retrieval import services, spelling
from retrieval.snapshot import ChunkMeta
from tests.factories import make_article

SPELLER = spelling.Speller(
    {
        "searched": 5,
        "search": 9,
        "option": 4,
        "activate": 3,
        "schedule": 6,
        "the": 40,
        "procedures": 3,
        "rare": 1,
    }
)


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("serached", "searched"),  # adjacent swap
        ("otion", "option"),  # a letter missing
        ("actvate", "activate"),
        ("scheddule", "schedule"),  # a letter too many
        ("schedula", "schedule"),  # one substituted
    ],
)
def test_unknown_words_become_the_knowledge_base_word_one_edit_away(typed, expected) -> None:
    assert SPELLER.correct_word(typed) == expected


@pytest.mark.parametrize(
    "typed",
    [
        "search",  # known
        "tne",  # too short: too many words are one edit away from three letters
        "dont",  # a contraction typed without its apostrophe
        "procedure",  # same stem as "procedures": the index would see no difference
        "rara",  # "rare" occurs once: a one-off typo in an article is no spelling to offer
        "zzzzzz",  # nothing near
        "ab12",  # digits: model numbers and error codes are never "corrected"
    ],
)
def test_words_that_are_not_typos_are_left_alone(typed) -> None:
    assert SPELLER.correct_word(typed) is None


def test_correct_keeps_the_rest_of_the_query_and_capitals() -> None:
    assert SPELLER.correct("Serached the otion for UN55 ?") == "Searched the option for UN55 ?"
    assert SPELLER.correct("") == ""
    assert SPELLER.correct("🙂 \x00 ????") == "🙂 \x00 ????"


def _meta(chunk_id: int, title: str, text: str, visibility: str) -> ChunkMeta:
    return ChunkMeta(chunk_id, chunk_id, title, title.lower(), visibility, "", text, 0)


def test_the_public_speller_never_offers_a_word_only_internal_text_uses() -> None:
    chunks = [
        _meta(1, "Refunds", "Refunds take five days. Refunds are paid to the card.", "public"),
        _meta(
            2,
            "Escalations",
            "Codename zephyrine: zephyrine outage playbook. The blue desk handles it. "
            "Ask the blue desk.",
            "internal",
        ),
    ]
    public = spelling.Speller.from_texts(spelling._texts(chunks, public_only=True))
    internal = spelling.Speller.from_texts(spelling._texts(chunks, public_only=False))
    # Control: the probe can see the internal word when the vocabulary includes it.
    assert internal.correct_word("zehpyrine") == "zephyrine"
    assert public.correct_word("zehpyrine") is None
    # Nor splits a word into a pair only internal text writes.
    assert internal.correct_word("bluedesk") == "blue desk"
    assert public.correct_word("bluedesk") is None
    # Nor treats an internal-only name as known.
    assert public.unknown_names("Escalate to Zephyrine") == ["Zephyrine"]
    assert internal.unknown_names("Escalate to Zephyrine") == []
    assert public.correct_word("refunsd") == "refunds"


def test_a_word_the_kb_writes_as_two_is_split_the_way_the_kb_writes_it() -> None:
    speller = spelling.Speller.from_texts(
        [
            "Connect a sound bar to the HDMI port. The sound bar plays the TV's sound.",
            "Connect to Wi-Fi. Wi-Fi networks are listed. Bars show the signal.",
            "Sound settings. Sound output. A bar of sound.",
        ]
    )
    assert speller.correct("Why is my Soundbar silent?") == "Why is my Sound bar silent?"
    assert speller.correct_word("wifi") == "wi fi"  # the index reads "Wi-Fi" as "wi fi"
    # Only a pair the KB writes at least twice: "bar of" once, "barsound" never.
    assert speller.correct_word("barof") is None
    assert speller.correct_word("barsound") is None
    # A one-edit correction still comes first.
    assert speller.correct_word("sounds") is None  # same stem as "sound": nothing to change
    assert spelling.Speller({"sound": 3, "bar": 3}).correct_word("soundbar") is None  # no pairs


@pytest.mark.django_db
def test_search_finds_the_article_despite_a_typo_and_says_how_it_read_the_query(
    admin_user, settings
) -> None:
    make_article(
        author=admin_user,
        title="Scheduling a recording",
        body="Open the Guide and select Schedule Recording. Schedule it for later.",
    )
    make_article(author=admin_user, title="Pairing the remote", body="Hold Back and Play.")
    services.index_rebuild()
    result = services.search("how do I scheduel a recrding", audience="public", mode="lexical")
    assert result.corrected_query == "how do I schedule a recording"
    assert result.hits and result.hits[0].title == "Scheduling a recording"
    # Control: without correction the misspelt words match nothing in the index.
    settings.SEARCH_SPELL_CORRECTION = False
    plain = services.search("scheduel recrding", audience="public", mode="lexical")
    assert plain.corrected_query == ""
    assert not plain.hits


def test_names_the_kb_never_uses_are_reported_and_ordinary_words_are_not() -> None:
    speller = spelling.Speller.from_texts(
        ["Connect the TV to the network. Bixby answers voice commands. Search the Guide."] * 2
    )
    assert speller.unknown_names("How do I connect my TV to Alexa?") == ["Alexa"]
    assert speller.unknown_names("Can I install Spotify? And use my Roku") == ["Spotify", "Roku"]
    assert speller.unknown_names("Alexa, connect the TV") == []  # a sentence's first word
    assert speller.unknown_names("connect to Bixby") == []  # the KB uses it
    assert speller.unknown_names("connect to Bixbi") == []  # a typo of a KB word
    assert speller.unknown_names("connect to ABCD and Explain it") == []  # acronym; a verb
    assert speller.unknown_names("") == [] and speller.unknown_names("🙂 \x00 ?") == []
