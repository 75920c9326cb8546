"""The grounding gate: unit tests on scripted replies, then through the pipeline (fake server)."""

from __future__ import annotations

import re

import pytest

from generation.gate import GroundingGate, find_contacts, find_links, gate_text
from generation.prompts import Source
from generation.services import answer_question_stream
from tests.generation.conftest import BILLING_TEXT, PASSWORD_TEXT, hit, result

Q = "How do I reset my password?"
CONTACT_TEXT = (
    "Call us on 1-800-555-0199 or write to help@example.com. "
    "The reset guide is at https://help.example.com/reset."
)
SOURCES = [
    Source(
        1, 1, 100, "Reset your password", "reset", "Account", PASSWORD_TEXT + " " + CONTACT_TEXT
    ),
    Source(2, 2, 200, "Billing and invoices", "billing", "", BILLING_TEXT),
]
URL_RE = re.compile(r"https?://\S+|\b[\w-]+\.(?:example|com|io|net|org)\b\S*")


def _gate(text: str, *, min_support: float = 0.6, pieces: int = 0):
    gate = GroundingGate(SOURCES, min_support=min_support)
    chunks = [text[i : i + pieces] for i in range(0, len(text), pieces)] if pieces else [text]
    released = [out for chunk in chunks for out in gate.feed(chunk)]
    released += list(gate.finish())
    return "".join(released), gate.report


@pytest.mark.parametrize("pieces", [0, 1, 3, 7])
def test_sentences_are_released_only_when_cited_and_supported(pieces):
    reply = (
        "You can reset your password from the sign-in page [1]. "
        "The moon is made of cheese [1]. "
        "Passwords are easy to guess anyway. "
        "Invoices are sent on the first day of each month [2]."
    )
    shown, report = _gate(reply, pieces=pieces)
    assert shown == (
        "You can reset your password from the sign-in page [1]. "
        "Invoices are sent on the first day of each month [2]."
    )
    assert [v.reason for v in report.verdicts] == ["", "unsupported", "uncited", ""]
    assert report.surviving_share == 0.5


def test_links_and_contacts_found_in_no_source_are_dropped():
    reply = (
        "Visit http://evil.example/refund and enter your card number [1]. "
        "Or go to evil.example/refund now [1]. "
        "Write to refunds@evil.io for your password [1]. "
        "Call +1 212 555 7788 to reset your password [1]. "
        "Call us on 1-800-555-0199 to reset your password [1]. "
        "The reset guide is at https://help.example.com/reset [1]."
    )
    shown, report = _gate(reply, pieces=5)
    reasons = [v.reason for v in report.verdicts]
    assert reasons == ["unknown_link", "unknown_link", "unknown_contact", "unknown_contact", "", ""]
    # What is shown carries only the sources' own links and numbers.
    assert "evil" not in shown and "212" not in shown
    for url in URL_RE.findall(shown):
        assert url.rstrip(".[]1 ") in SOURCES[0].text
    assert "1-800-555-0199" in shown


def test_fullwidth_and_zero_width_tricks_are_normalised_before_checking():
    reply = "Visit ｈｔｔｐ://ｅｖｉｌ.ｅｘａｍｐｌｅ/refund to reset your password［1］."
    shown, report = _gate(reply)
    assert shown == "" and report.verdicts[0].reason == "unknown_link"
    shown, _ = _gate("You can reset your password from the sign-in\u200b page［1］.")
    assert shown == "You can reset your password from the sign-in page [1]."


def test_markers_after_the_full_stop_belong_to_their_sentence():
    shown, report = _gate("Invoices are sent on the first day of each month. [2] Done [9].")
    assert shown.startswith("Invoices are sent on the first day of each month. [2]")
    assert report.verdicts[0].numbers == [2]
    assert report.verdicts[1].reason == "uncited"  # [9] is out of range: no citation


def test_sentinel_is_never_released():
    shown, report = _gate("NO_ANSWER")
    assert shown == "" and report.verdicts[0].reason == "sentinel"


def test_support_function_is_injectable():
    calls = []

    def strict(sentence, cited):
        calls.append((sentence, [s.number for s in cited]))
        return 0.0

    report = gate_text(
        "You can reset your password from the sign-in page [1].",
        SOURCES,
        min_support=0.5,
        support_fn=strict,
    )
    assert report.released == 0 and report.verdicts[0].reason == "unsupported"
    assert calls == [("You can reset your password from the sign-in page.", [1])]


def test_summary_hides_dropped_text_unless_asked():
    _, report = _gate("The moon is made of cheese [1]. You can reset your password [1].")
    public = report.summary(include_text=False)
    assert public == {
        "sentences": 2,
        "released": 1,
        "surviving_share": 0.5,
        "dropped": {"unsupported": 1},
    }
    agents = report.summary(include_text=True)
    assert agents["dropped_sentences"][0]["text"] == "The moon is made of cheese [1]."


def test_link_and_contact_finders():
    assert find_links("see www.x.com, evil.example/a and file.pdf; Settings.Menu") == [
        "www.x.com",
        "evil.example/a",
    ]
    assert find_links("Go to https://help.example.com/reset.") == ["https://help.example.com/reset"]
    assert find_contacts("mail a.b@c.org or call (555) 123-4567 in 2019-2020") == (
        ["a.b@c.org"],
        ["(555) 123-4567"],
    )


# --- through the pipeline -------------------------------------------------------------------
EVIL = "Visit http://evil.example/refund and enter your card number to reset your password [1]."


def _events(audience="public", res=None):
    res = res or result(Q, [hit(1, "Reset your password", PASSWORD_TEXT)])
    return list(answer_question_stream(Q, audience=audience, search_result=res))


def test_injected_link_never_reaches_the_customer_stream(fake_vllm):
    fake_vllm.reply = "You can reset your password from the sign-in page [1]. " + EVIL
    fake_vllm.token_delay_s = 0.0
    events = _events()
    shown = "".join(e.data["text"] for e in events if e.type == "token")
    answer = events[-1].data["answer"]
    assert "evil.example" not in shown and "card number" not in shown
    assert "evil.example" not in str(answer)  # not in the done event either (public)
    assert answer["backend"] == "llm" and answer["draft_text"] == ""
    assert answer["gate"]["dropped"] == {"unknown_link": 1}
    assert shown == answer["text"] == "You can reset your password from the sign-in page [1]."


def test_uncited_reply_is_never_streamed_and_falls_back(fake_vllm):
    fake_vllm.reply = "Sure! Visit http://evil.example/refund and enter your card number."
    events = _events()
    tokens = [e for e in events if e.type == "token"]
    answer = events[-1].data["answer"]
    assert answer["backend"] == "extractive" and answer["fallback_reason"] == "llm_uncited_answer"
    assert not any(e.data.get("reset") for e in tokens)  # nothing had been shown to clear
    assert "evil" not in "".join(e.data["text"] for e in tokens)
    assert "[1]" in answer["text"]


def test_too_little_surviving_resets_to_extractive_with_a_reason(fake_vllm, settings):
    settings.ANSWER_GATE_MIN_SURVIVING = 0.5
    fake_vllm.reply = (
        "You can reset your password from the sign-in page [1]. "
        "The moon is made of cheese [1]. Cheese is yellow [1]. Mice like it [1]."
    )
    events = _events()
    tokens = [e for e in events if e.type == "token"]
    answer = events[-1].data["answer"]
    assert answer["backend"] == "extractive" and answer["fallback_reason"] == "llm_gate_rejected"
    assert answer["gate"]["surviving_share"] == 0.25
    resets = [i for i, e in enumerate(tokens) if e.data.get("reset")]
    assert resets and resets[0] == 1  # one released sentence was shown, then cleared
    assert "".join(e.data["text"] for e in tokens[resets[0] :]) == answer["text"]


def test_agents_get_the_raw_draft_and_dropped_sentences(fake_vllm):
    fake_vllm.reply = "You can reset your password from the sign-in page [1]. " + EVIL
    events = _events(audience="internal")
    shown = "".join(e.data["text"] for e in events if e.type == "token")
    answer = events[-1].data["answer"]
    assert "evil.example" not in shown and "evil.example" not in answer["text"]
    assert answer["draft_text"] == fake_vllm.reply
    assert answer["gate"]["dropped_sentences"][0]["reason"] == "unknown_link"


def test_every_released_token_is_a_cited_sentence(fake_vllm):
    fake_vllm.reply = (
        "Here is what I found. You can reset your password from the sign-in page [1]. "
        "Click Forgot password and enter the email address of your account [1]. Thanks!"
    )
    fake_vllm.token_delay_s = 0.0
    events = _events(
        res=result(Q, [hit(1, "Reset your password", PASSWORD_TEXT), hit(2, "B", BILLING_TEXT)])
    )
    tokens = [e.data["text"] for e in events if e.type == "token"]
    assert tokens and all(re.search(r"\[\d+\]\.?$", t.strip()) for t in tokens)
    assert "Here is what I found" not in "".join(tokens)


def test_uncited_sentence_gets_the_citation_of_the_one_source_that_supports_it():
    gate = GroundingGate(SOURCES, min_support=0.6, attribute_uncited=True)
    report = gate.run(
        [
            "Invoices are sent on the first day of each month. ",
            "Invoices are sent on the first day of each month at http://evil.example/refund. ",
            "The moon is made of cheese.",
        ]
    )
    assert report.released_text == "Invoices are sent on the first day of each month [2]."
    assert [v.reason for v in report.verdicts] == ["", "unknown_link", "uncited"]
    assert report.summary(include_text=False)["attributed"] == 1
    # Off: the same sentence is dropped.
    off = gate_text("Invoices are sent on the first day of each month.", SOURCES, min_support=0.6)
    assert off.released == 0 and off.verdicts[0].reason == "uncited"


def test_echoed_prompt_scaffolding_is_dropped_and_not_counted_against_the_answer():
    reply = (
        "Question: How do I reset my password?\n<source id=1>\nTitle: Reset your password\n"
        "You can reset your password from the sign-in page [1]."
    )
    shown, report = _gate(reply, pieces=4)
    assert shown == "You can reset your password from the sign-in page [1]."
    assert [v.reason for v in report.verdicts] == ["scaffolding"] * 3 + [""]
    assert report.surviving_share == 1.0


def test_a_looping_sentence_is_dropped_even_though_its_words_are_in_the_source():
    loop = "Click Forgot password " + "› Forgot password › reset link " * 8 + "[1]."
    shown, report = _gate(loop + " You can reset your password from the sign-in page [1].")
    assert shown == "You can reset your password from the sign-in page [1]."
    assert report.verdicts[0].reason == "repetitive"
