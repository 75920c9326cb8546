"""Drafts never invent facts: extractive drafts only reuse evidence sentences, LLM drafts are
checked against the evidence and rejected (or flagged) when they say more than it does."""

from __future__ import annotations

import pytest

from insights import drafting
from insights.models import Suggestion
from insights.services import mine_logs
from tests.insights.conftest import NOW, log_question

REPLIES = [
    "Hello! Open Settings, then Sound, then Expert Settings. Set HDMI-eARC Mode to Auto. "
    "Have a nice day!",
    "Hi, please update the soundbar firmware to version 2.1 from the SmartThings app. "
    "After the update, turn the TV off and on again. Thanks!",
]


def _evidence_texts(suggestion: Suggestion) -> list[str]:
    ev = suggestion.evidence
    return [q["text"] for q in ev["questions"]] + [r["text"] for r in ev["agent_replies"]]


def _assert_every_sentence_from(body: str, evidence: list[str]) -> None:
    headings = {h.lower() for h in drafting.EXTRACTIVE_HEADINGS}
    for sentence in drafting.split_sentences(body):
        if sentence.lower() in headings:
            continue
        # Sentences are copied whole (a leading "Hi, " may be dropped and the next letter
        # capitalised), so each must appear in one evidence text.
        assert any(sentence.lower() in text.lower() for text in evidence), f"invented: {sentence!r}"


@pytest.fixture
def soundbar_logs(db) -> None:
    log_question("soundbar HDMI ARC no sound", session="a", escalated=True, agent_reply=REPLIES[0])
    log_question(
        "No sound from my soundbar on HDMI ARC", session="b", escalated=True, agent_reply=REPLIES[1]
    )
    log_question("soundbar HDMI ARC has no sound at all", session="c", abstained=True)


@pytest.mark.django_db
def test_extractive_draft_uses_only_sentences_from_the_evidence(soundbar_logs) -> None:
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.draft_source == "extractive"
    body = suggestion.draft_body
    assert "Set HDMI-eARC Mode to Auto." in body
    assert "version 2.1" in body
    assert "Have a nice day" not in body and "Hello" not in body  # pleasantries dropped
    _assert_every_sentence_from(body, _evidence_texts(suggestion))
    assert suggestion.draft_check["unsupported"] == []


def test_extractive_draft_without_replies_lists_only_the_questions() -> None:
    title, body = drafting.extractive_new_article(
        questions=["why no sound?", "no sound"], replies=[]
    )
    assert title == "Why no sound?"
    _assert_every_sentence_from(body, ["why no sound?", "no sound"])


def test_support_check_catches_invented_sentences_and_numbers() -> None:
    evidence = ["Set HDMI-eARC Mode to Auto in Expert Settings.", "Update the firmware to 2.1."]
    report = drafting.check_support(
        "Set HDMI-eARC Mode to Auto in Expert Settings. Update the firmware to 3.4. "
        "Replace the optical cable with a gold-plated one.",
        evidence,
    )
    assert report.sentences == 3 and report.supported == 1
    assert report.unsupported == [
        "Update the firmware to 3.4.",
        "Replace the optical cable with a gold-plated one.",
    ]


@pytest.mark.django_db
def test_supported_llm_draft_is_kept(soundbar_logs, fake_llm) -> None:
    fake_llm.json_reply = {
        "title": "No sound from a soundbar over HDMI ARC",
        "body": "Open Settings, then Sound, then Expert Settings. Set HDMI-eARC Mode to Auto.\n\n"
        "Update the soundbar firmware to version 2.1 from the SmartThings app.",
        "rationale": "Agents solved it this way.",
        "sources": [4, 5],
    }
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.draft_source == "llm"
    assert suggestion.draft_title == "No sound from a soundbar over HDMI ARC"
    assert suggestion.draft_check["unsupported"] == []
    request = fake_llm.chat_requests[-1]["body"]
    # The prompt carries the redacted evidence and asks for schema-guided JSON.
    assert "Set HDMI-eARC Mode to Auto" in str(request["messages"])
    assert "kb_draft" in str(request)


@pytest.mark.django_db
def test_llm_draft_with_unsupported_claims_is_rejected(soundbar_logs, fake_llm) -> None:
    fake_llm.json_reply = {
        "title": "Soundbar troubleshooting",
        "body": "Set HDMI-eARC Mode to Auto. "
        "Buy the Samsung HW-Q990C premium cable for 49 dollars. "
        "Factory reset the soundbar by holding Volume Down for 30 seconds.",
        "rationale": "x",
        "sources": [1],
    }
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.draft_source == "extractive"
    assert suggestion.draft_check["llm_rejected"] is True
    assert len(suggestion.draft_check["llm_unsupported"]) == 2
    assert "49 dollars" not in suggestion.draft_body
    _assert_every_sentence_from(suggestion.draft_body, _evidence_texts(suggestion))


@pytest.mark.django_db
def test_llm_outage_falls_back_to_the_extractive_draft(soundbar_logs, fake_llm) -> None:
    fake_llm.default = "503"
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.draft_source == "extractive"
    assert suggestion.draft_check["llm_error"]
    assert "Set HDMI-eARC Mode to Auto." in suggestion.draft_body


def test_extractive_update_and_merge_drafts_only_reuse_evidence() -> None:
    article = "## Pairing\n\nPoint the remote at the TV. Hold Back and Play for 3 seconds."
    replies = ["Hi, hold Back and Play for 5 seconds on the 2024 models. Thanks!"]
    questions = ["remote does not pair"]
    title, body = drafting.extractive_update(
        title="Pair the remote", body=article, questions=questions, replies=replies
    )
    assert title == "Pair the remote"
    assert body.startswith(article)
    assert "Hold Back and Play for 5 seconds on the 2024 models." in body
    _assert_every_sentence_from(body, [article, *replies, *questions])

    other = "Point the remote at the TV.\n\nThe remote battery lasts a year."
    _, merged = drafting.extractive_merge(title="Pair", body=article, other_body=other)
    assert merged.count("Point the remote at the TV.") == 1
    assert merged.endswith("The remote battery lasts a year.")
    _assert_every_sentence_from(merged, [article, other])


@pytest.mark.django_db
def test_mostly_supported_llm_draft_is_kept_with_its_doubtful_sentence_flagged(
    soundbar_logs, fake_llm, client, editor
) -> None:
    fake_llm.json_reply = {
        "title": "No sound from a soundbar over HDMI ARC",
        "body": "Open Settings, then Sound, then Expert Settings.\n\n"
        "Set HDMI-eARC Mode to Auto.\n\n"
        "Update the soundbar firmware to version 2.1 from the SmartThings app.\n\n"
        "After the update, turn the TV off and on again.\n\n"
        "The soundbar HDMI ARC should then play sound.\n\n"
        "Optical cables give better quality than HDMI.",
        "rationale": "r",
        "sources": [4],
    }
    mine_logs(now=NOW)
    suggestion = Suggestion.objects.get(kind="new_article")
    assert suggestion.draft_source == "llm"
    assert suggestion.draft_check["unsupported"] == [
        "Optical cables give better quality than HDMI."
    ]
    client.force_login(editor)
    page = client.get(f"/insights/suggestions/{suggestion.pk}/").content.decode()
    assert "not clearly supported by the evidence" in page
    assert "Optical cables give better quality than HDMI." in page
