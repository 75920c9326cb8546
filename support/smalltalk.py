"""Messages that are not questions for the help center: greetings, thanks, "talk to a human".

Plain module (no ORM) and the one place greetings and thanks are recognised:
- `classify()` (the whole message is a greeting, thanks or a request for a person): the
  answer-and-record service asks it before searching, so "hi" gets a greeting and "I want to
  talk to a human" a handoff instead of "I couldn't find this";
- `opens_with_greeting()` (a short message that starts with one): support.triage's cue
  feature for the "greeting" intent.
Both match text folded by generation.safety.normalize (case, accents, full-width forms), so
"¡Hola!", "HALLO" and "Bonjour" are recognised alike.
"""

from __future__ import annotations

import re

from generation.safety import normalize

GREETING = "greeting"
THANKS = "thanks"
HUMAN = "human"

# Folded forms (lower case, no accents): see the module docstring.
_GREETING_WORDS = (
    r"hi+|hello+|hey+|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day)|greetings|hallo|"
    r"hola|bonjour|bonsoir|salut|buenos\s+(?:dias|tardes|noches)|buenas(?:\s+tardes)?|"
    r"guten\s+(?:tag|morgen|abend)|servus|moin"
)
_THANKS_WORDS = (
    r"thanks?(?:\s+you)?|thx|ty|cheers|much appreciated|gracias|muchas gracias|danke(?:\s+schon)?|"
    r"vielen dank|merci(?:\s+beaucoup)?|bye|goodbye|adios|tschuss|au revoir"
)
_CJK_GREETING = r"你好|您好|在吗|嗨"
_CJK_THANKS = r"谢谢|多谢|感谢"

_GREETING_RE = re.compile(
    rf"^[\s¡¿]*(?:(?:{_GREETING_WORDS})(?:\s+(?:there|all|team|everyone|folks))?|{_CJK_GREETING})"
    r"[\s!.,?:)¡¿~。！？，]*$"
)
_THANKS_RE = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|great|perfect|cool|awesome)[\s,!.]*)?"
    rf"(?:(?:{_THANKS_WORDS})(?:\s+(?:so much|a lot|very much))?|{_CJK_THANKS})"
    r"[\s!.,:)¡~。！，]*$"
)
# A short message opening with a greeting or thanks, without a question in it.
_OPENS_WITH_RE = re.compile(
    rf"^[¡¿]?(?:ok\s+)?(?:{_GREETING_WORDS}|{_THANKS_WORDS})\b[^?]{{0,25}}$"
    rf"|^(?:{_CJK_GREETING}|{_CJK_THANKS})"
)
_PERSON = (
    r"(?:a\s+|an\s+|the\s+|some\s*one|somebody|your\s+)?(?:human|person|agent|people|"
    r"representative|rep|operator|support(?:\s+team)?|someone|somebody|real\s+person|staff)"
)
_HUMAN_RE = re.compile(
    r"(?:talk|speak|chat|connect\s+me)\s+(?:to|with)\s+"
    + _PERSON
    + r"|(?:i\s+(?:want|need|would\s+like)|can\s+i\s+(?:get|have)|give\s+me|get\s+me)\s+"
    + _PERSON
    + r"|^\s*(?:human|agent|operator|representative|real\s+person)(?:\s+please)?[\s!.?]*$"
    + r"|^\s*(?:contact|call)\s+(?:support|an?\s+agent|a\s+human|a\s+person)",
)


def classify(text: str) -> str:
    """GREETING, THANKS, HUMAN, or "" for a real question. Short messages only."""
    text = (text or "").strip()
    if not text or len(text) > 200:
        return ""
    norm = normalize(text)
    if _HUMAN_RE.search(norm):
        return HUMAN
    if _GREETING_RE.match(norm):
        return GREETING
    if _THANKS_RE.match(norm):
        return THANKS
    return ""


def opens_with_greeting(norm: str) -> bool:
    """A short greeting or thanks, perhaps with a few words more (text already normalized)."""
    return bool(_OPENS_WITH_RE.search(norm))


REPLIES = {
    GREETING: "Hello! Ask me anything about our products and I will look it up in the help "
    "center. If you would rather talk to a person, say so at any time.",
    THANKS: "You're welcome! Is there anything else I can help with?",
    HUMAN: "Of course: I am passing this conversation to our support team. A person will "
    "read it and reply here and by e-mail.",
}
