"""Personal data never reaches mining, the review queue or an LLM; product text stays intact."""

from __future__ import annotations

import pytest

from insights.redaction import drop_contact_sentences, iban_valid, luhn_valid, redact


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail me at jane.doe+tv@example.co.uk please", "mail me at [EMAIL] please"),
        ("Contact: BOB@Example.COM.", "Contact: [EMAIL]."),
        ("my card 4111 1111 1111 1111 was charged", "my card [CARD] was charged"),
        ("card 4111-1111-1111-1111", "card [CARD]"),
        ("card 4012888888881881 expired", "card [CARD] expired"),
        ("amex 3782 822463 10005", "amex [CARD]"),
        ("call me on +1 (555) 123-4567 tonight", "call me on [PHONE] tonight"),
        ("call 555-123-4567 or 555.987.6543", "call [PHONE] or [PHONE]"),
        ("UK number +44 20 7946 0958", "UK number [PHONE]"),
        ("ring 0044 20 7946 0958", "ring [PHONE]"),
        ("mobile 07700 900 123", "mobile [PHONE]"),
        ("Reach me at 07700 900003 or later", "Reach me at [PHONE] or later"),
        ("office 020 79460958", "office [PHONE]"),
        ("(212) 555-0100 is the office", "[PHONE] is the office"),
        ("pay to DE89 3704 0044 0532 0130 00 and confirm", "pay to [IBAN] and confirm"),
        ("IBAN GB82WEST12345698765432", "IBAN [IBAN]"),
        (
            "I am jo@x.org, card 5555555555554444, phone +33 1 23 45 67 89",
            "I am [EMAIL], card [CARD], phone [PHONE]",
        ),
    ],
)
def test_personal_data_is_replaced(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "My UN55RU7100 shows a black screen",
        "Model QN65Q80TAFXZA, firmware 1.2.3",
        "Updated to version 10.2.1.4567 yesterday",
        "Software version T-KTMAKUC-1340.5 is installed",
        "It broke on 2024-03-01 and again on 03/15/2024",
        "Bought in 2019, works 2019-2021, then failed",
        "Resolution 3840 x 2160 at 120 Hz, or 1920 1080",
        "Press and hold for 5 seconds, then wait 30 minutes",
        "Order 4111 1111 1111 1112 is not a valid card number",
        "Price is 1,299.99 dollars for 65 inches",
        "IP 192.168.100.200 and port 8080",
        "Connect to HDMI 2 and set 4:3 ratio at 10:30",
        "Error code 0x80070005 appears",
        "Use the @mention feature in SmartThings",
        "The IBAN field rejects DE00 1234 5678 9012 3456 78",
    ],
)
def test_product_text_is_not_redacted(text: str) -> None:
    assert redact(text) == text


def test_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert not luhn_valid("41111x")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE00 3704 0044 0532 0130 00")
    assert not iban_valid("UN55RU7100")


def test_empty_and_idempotent() -> None:
    assert redact("") == ""
    once = redact("a@b.io +1 555 123 4567 4111111111111111")
    assert redact(once) == once
    assert "[EMAIL]" in once and "[PHONE]" in once and "[CARD]" in once


def test_contact_only_sentences_are_dropped_from_mined_questions() -> None:
    text = redact("How do I open the channel list? My email is jo@example.com.")
    assert drop_contact_sentences(text) == "How do I open the channel list?"
    assert drop_contact_sentences("Can you call me on [PHONE]?") == "Can you call me on [PHONE]?"
    assert drop_contact_sentences("My email is [EMAIL].") == "My email is [EMAIL]."
    assert drop_contact_sentences("No sound. Reach me at [PHONE]. Thanks!") == "No sound. Thanks!"
