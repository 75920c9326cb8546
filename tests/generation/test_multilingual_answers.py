"""Answers in the customer's language (issue 15): abstention, labels, the LLM instruction."""

from __future__ import annotations

import pytest

from generation import languages
from generation.prompts import Source, build_prompt
from generation.safety_defaults import DEFAULT_RESPONSES
from generation.services import ABSTAIN_TEXT, answer_question
from retrieval import services as retrieval_services
from retrieval.types import SearchResult
from tests.factories import make_article
from tests.generation.conftest import hit

pytestmark = pytest.mark.django_db

PICTURE = (
    "To restore the picture settings, open Picture, then Expert Settings, and select "
    "Reset Picture. All picture settings return to their factory values."
)


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("¿Cómo cambio la contraseña de mi cuenta bancaria?", "es"),
        ("Wie kündige ich meinen Stromvertrag bei der Gemeinde?", "de"),
        ("Comment réserver une table dans un restaurant à Lyon ?", "fr"),
        ("我怎样预订去上海的火车票？", "zh"),
    ],
)
def test_abstention_is_in_the_question_language(question, language):
    result = SearchResult(query=question, audience="public", hits=[], language=language)
    answer = answer_question(question, audience="public", search_result=result)
    assert answer.abstained
    assert answer.text == languages.ABSTAIN_TEXTS[language] != ABSTAIN_TEXT
    assert answer.language == language


def test_abstention_detects_the_language_when_search_did_not_say():
    question = "¿Dónde puedo comprar entradas para el concierto de mañana?"
    result = SearchResult(query=question, audience="public", hits=[])
    answer = answer_question(question, audience="public", search_result=result)
    assert answer.abstained and answer.text == languages.ABSTAIN_TEXTS["es"]


def test_english_abstention_is_unchanged():
    question = "Where can I buy tickets for tomorrow's concert?"
    answer = answer_question(
        question, audience="public", search_result=SearchResult(question, "public", [])
    )
    assert answer.text == ABSTAIN_TEXT


def test_answer_from_an_english_article_is_labelled_with_its_language():
    question = "¿Cómo restablezco los ajustes de imagen del televisor?"
    result = SearchResult(
        query=question,
        audience="public",
        hits=[hit(1, "Resetting the picture settings", PICTURE)],
        confidence=0.9,
        language="es",
    )
    answer = answer_question(question, audience="public", search_result=result)
    assert not answer.abstained, answer
    label = languages.source_language_label("es", "en")
    assert answer.text.startswith(label) and "inglés" in label
    assert "Reset Picture" in answer.text  # the article's own words, quoted
    assert answer.source_language == "en"
    assert [c.article_id for c in answer.citations] == [1]  # the portal links the article


def test_same_language_article_answers_without_a_label(admin_user):
    german = make_article(
        author=admin_user,
        title="Bild zurücksetzen",
        body="Öffnen Sie Bild, dann Experteneinstellungen, und wählen Sie Bild zurücksetzen. "
        "Alle Bildeinstellungen werden auf die Werkseinstellungen zurückgesetzt.",
        locale="de",
    )
    make_article(author=admin_user, title="Resetting the picture", body=PICTURE)
    retrieval_services.index_rebuild()
    question = "Wie kann ich die Bildeinstellungen zurücksetzen?"
    answer = answer_question(question, audience="public")
    assert answer.language == "de"
    assert not answer.abstained, answer
    assert answer.citations and answer.citations[0].article_id == german.pk
    assert answer.source_language == ""
    assert "Bild zurücksetzen" in answer.text


def test_llm_prompt_asks_for_the_question_language():
    source = Source(1, 1, 100, "Resetting the picture", "reset", "", PICTURE)
    spanish = build_prompt("¿Cómo restablezco la imagen?", [source], language="es")
    assert "Write the answer in Spanish" in spanish.messages[-1]["content"]
    english = build_prompt("How do I reset the picture?", [source], language="en")
    unset = build_prompt("How do I reset the picture?", [source])
    assert english.messages == unset.messages
    assert "Write the answer in" not in english.messages[-1]["content"]


@pytest.mark.parametrize(
    ("question", "language"),
    [
        ("Mi televisor echa humo y huele a quemado", "es"),
        ("Mein Fernseher raucht und riecht verbrannt", "de"),
    ],
)
def test_safety_handoff_is_in_the_question_language(question, language):
    answer = answer_question(question, audience="public")
    assert answer.handoff_reason == "safety"
    assert answer.text == DEFAULT_RESPONSES[language]


def test_every_search_language_has_its_own_texts(settings):
    for code in settings.SEARCH_LANGUAGES:
        assert code in languages.ABSTAIN_TEXTS
        assert code in DEFAULT_RESPONSES
        assert languages.source_language_label(code, "en")
