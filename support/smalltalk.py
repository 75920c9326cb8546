"""Messages that are not questions for the help center: greetings, thanks, "talk to a human".

Plain module (no ORM): the answer-and-record service asks it before searching, so "hi" gets a
greeting and "I want to talk to a human" a handoff instead of "I couldn't find this".
"""

from __future__ import annotations

import re

GREETING = "greeting"
THANKS = "thanks"
HUMAN = "human"

_GREETING_RE = re.compile(
    r"^\s*(?:hi+|hello+|hey+|hiya|howdy|yo|good\s+(?:morning|afternoon|evening|day)|greetings"
    r"|hallo|bonjour|hola)(?:\s+(?:there|all|team|everyone|folks))?[\s!.,?:)]*$",
    re.IGNORECASE,
)
_THANKS_RE = re.compile(
    r"^\s*(?:(?:ok(?:ay)?|great|perfect|cool|awesome)[\s,!.]*)?(?:thanks?(?:\s+you)?|thx|ty|"
    r"cheers|much appreciated)(?:\s+(?:so much|a lot|very much))?[\s!.,:)]*$",
    re.IGNORECASE,
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
    re.IGNORECASE,
)


def classify(text: str) -> str:
    """GREETING, THANKS, HUMAN, or "" for a real question. Short messages only."""
    text = (text or "").strip()
    if not text or len(text) > 200:
        return ""
    if _HUMAN_RE.search(text):
        return HUMAN
    if _GREETING_RE.match(text):
        return GREETING
    if _THANKS_RE.match(text):
        return THANKS
    return ""


REPLIES = {
    GREETING: "Hello! Ask me anything about our products and I will look it up in the help "
    "center. If you would rather talk to a person, say so at any time.",
    THANKS: "You're welcome! Is there anything else I can help with?",
    HUMAN: "Of course: I am passing this conversation to our support team. A person will "
    "read it and reply here and by e-mail.",
}
