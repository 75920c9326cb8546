"""Remove personal data from logged text before it is mined, shown or sent to an LLM.

Replaces e-mail addresses with [EMAIL], payment-card numbers (13-19 digits, optionally grouped
with spaces or dashes, passing the Luhn check) with [CARD], IBANs (valid mod-97 checksum) with
[IBAN] and phone numbers with [PHONE]. The rules lean towards keeping product text intact:
version numbers (1.2.3), model numbers (UN55RU7100), dates (2024-03-01, 03/01/2024), years and
resolutions are not touched. Plain module: no Django imports.
"""

from __future__ import annotations

import re

EMAIL = "[EMAIL]"
PHONE = "[PHONE]"
CARD = "[CARD]"
IBAN = "[IBAN]"

_EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9][A-Za-z0-9._%+-]*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b"
)
# Two letters, two check digits, then 11-30 letters/digits, optionally in groups of four.
_IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}\b", re.IGNORECASE)
# 13-19 digits, separated by at most one space or dash between digits.
_CARD_RE = re.compile(r"(?<![\w.])\d(?:[ -]?\d){12,18}(?!\w|\.\d)")  # a final period ends it
# A candidate phone number: optional +/00, digits with spaces, dashes, dots or parentheses.
_PHONE_RE = re.compile(r"(?<![\w.+/:-])(?:\+|\b00)?\(?\d[\d ().-]{5,}\d(?![\w/:])(?!\.\d)")
_DATE_RE = re.compile(r"^(?:\d{4}[-/.]\d{1,2}[-/.]\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})$")


def luhn_valid(digits: str) -> bool:
    """True when a digit string passes the Luhn checksum used by payment cards."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(text: str) -> bool:
    """True when text (spaces allowed) is an IBAN with a valid mod-97 checksum."""
    compact = re.sub(r"\s+", "", text).upper()
    if not (15 <= len(compact) <= 34) or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    rearranged = compact[4:] + compact[:4]
    try:
        number = "".join(str(int(ch, 36)) for ch in rearranged)
    except ValueError:
        return False
    return int(number) % 97 == 1


def _replace_iban(match: re.Match[str]) -> str:
    text = match.group(0)
    # The greedy match may swallow a following word ("... 3000 and"): trim back to valid.
    parts = text.split(" ")
    for end in range(len(parts), 0, -1):
        candidate = " ".join(parts[:end])
        if iban_valid(candidate):
            return IBAN + text[len(candidate) :]
    return text


def _replace_card(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if 13 <= len(digits) <= 19 and luhn_valid(digits):
        return CARD
    return text


def _looks_like_phone(text: str) -> bool:
    stripped = text.strip()
    digits = re.sub(r"\D", "", stripped)
    if not 7 <= len(digits) <= 15:
        return False
    if _DATE_RE.match(stripped):
        return False
    if "." in stripped:
        # Dots mean versions, IPs or prices, except the US style 555.123.4567.
        return bool(re.fullmatch(r"\(?\d{3}\)?\.\d{3}\.\d{4}", stripped))
    international = stripped.startswith(("+", "00"))
    has_parens = "(" in stripped and ")" in stripped
    groups = [g for g in re.split(r"[ ()-]+", stripped.lstrip("+")) if g]
    if international or has_parens:
        return True
    # A single run of digits is a phone number only when long enough (not a year or a count);
    # two groups ("2019-2021", "1920 1080") are ranges and sizes, not numbers to call.
    if len(groups) == 1:
        return len(digits) >= 10
    if len(groups) == 2:
        # "07700 900123" (national mobile) yes; "2019-2021", "1920 1080" (8 digits) no.
        return len(digits) >= 10 or (stripped.startswith("0") and len(digits) >= 9)
    return True


def _replace_phone(match: re.Match[str]) -> str:
    text = match.group(0)
    # Trim separators the pattern may have taken at the end ("... 4567 ").
    core = text.rstrip(" .-(")
    if _looks_like_phone(core):
        return PHONE + text[len(core) :]
    return text


def redact(text: str) -> str:
    """Replace e-mails, card numbers, IBANs and phone numbers in text with placeholders."""
    if not text:
        return text or ""
    text = _EMAIL_RE.sub(EMAIL, text)
    text = _IBAN_RE.sub(_replace_iban, text)
    text = _CARD_RE.sub(_replace_card, text)
    text = _PHONE_RE.sub(_replace_phone, text)
    return text


_PLACEHOLDER_RE = re.compile(r"\[(?:EMAIL|PHONE|CARD|IBAN)\]")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?])\s+")


def drop_contact_sentences(text: str) -> str:
    """Drop statements that only carry redacted contact data ("Call me on [PHONE].").

    Questions and sentences without a placeholder stay; so does the text when nothing else
    would be left. Mining then groups "How do I X? My email is [EMAIL]." with "How do I X?".
    """
    sentences = _SENTENCE_END_RE.split(text.strip())
    kept = [
        s for s in sentences if not (_PLACEHOLDER_RE.search(s) and not s.rstrip().endswith("?"))
    ]
    return " ".join(kept) if kept else text.strip()
