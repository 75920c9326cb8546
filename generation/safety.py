"""Safety handoff: questions about hazards are never answered from the manuals.

`assess(question)` decides, before retrieval, whether a question reports a hazard (burning
smell, smoke, sparks, electric shock, a melted cord, a swallowed battery, a fallen TV, liquid
inside, dangerous heat, a swollen battery, gas, ...). Such a question gets a fixed, editable
safety response in its own language and an urgent handoff to a person.

The decision is made by rules that are data (admins edit them as `generation.SafetyRule`;
`DEFAULT_RULES` below seeds them). Three kinds of rule run over a normalised text (NFKC,
case-folded, Latin accents removed, CJK kept as is):
- `mask`: a lexical look-alike that is not a hazard ("burn-in", "Fire TV", "hotspot",
  "shock-proof", "water-resistant", "fell off the Wi-Fi") is blanked out first, so the
  hazard rules never see it ("my Fire TV stick is smoking" still hands off);
- `hazard`: a pattern with a confidence; the strongest unsuppressed one decides;
- `benign`: context that makes the *weak* hazards of its category ordinary ("my new TV has
  a faint plastic smell"): it suppresses hazard matches of that category whose confidence is
  below its own. Strong hazards ("smells burnt", "smoke") are never suppressed.

No ORM here: the rules and responses in use come from a provider that
`generation.safety_store` installs at start-up (database, cached, reloaded on change); without
it the defaults below are used, which keeps this module testable without a database.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

HAZARD: str = "hazard"
BENIGN: str = "benign"
MASK: str = "mask"
KINDS = (HAZARD, BENIGN, MASK)

CATEGORIES = {
    "fire_smoke": "Smoke or fire",
    "burning_smell": "Burning or electrical smell",
    "sparks": "Sparks, arcing or a bang",
    "electric_shock": "Electric shock or tingling",
    "damaged_cord": "Melted, burnt or damaged cord, plug or socket",
    "swallowed_battery": "Swallowed battery",
    "tip_over": "Fallen or tipped-over TV",
    "liquid_inside": "Liquid inside the device",
    "overheating": "Dangerous heat",
    "battery_damage": "Swollen, leaking or exploding battery",
    "gas_leak": "Gas smell or leak",
    "any": "Any category",
}

LANGUAGES = ("en", "es", "de", "fr", "it", "pt", "zh", "ja", "ko")


@dataclass(frozen=True)
class SafetyRule:
    name: str
    category: str
    pattern: str
    kind: str = HAZARD
    confidence: float = 0.9
    language: str = ""  # the language the pattern is written in ("" = any); a reply hint
    description: str = ""


@dataclass(frozen=True)
class SafetyVerdict:
    hazard: bool
    category: str = ""
    rule: str = ""  # the deciding hazard rule's name
    confidence: float = 0.0  # of the deciding rule; for a benign verdict, 1 - the best suppressed
    language: str = ""  # the language to reply in (detected for hazards only: it costs)
    suppressed_by: str = ""  # a benign rule that made a weak hazard match ordinary
    matched: tuple[str, ...] = ()  # every hazard rule that matched (unsuppressed first)

    def to_dict(self) -> dict:
        """Plain JSON-ready data (stored on the Answer and the interaction)."""
        return {
            "hazard": self.hazard,
            "category": self.category,
            "rule": self.rule,
            "confidence": self.confidence,
            "language": self.language,
            "suppressed_by": self.suppressed_by,
            "matched": list(self.matched),
        }


# --- normalisation and language ----------------------------------------------------------
_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u00b4": "'", "`": "'", "\u2010": "-"})


@lru_cache(maxsize=4096)
def _fold_char(ch: str) -> str:
    if ch < "\u0250":  # Latin only: Hangul and kana must keep their composed forms
        return "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
    return ch


def normalize(text: str) -> str:
    """The text rules run over: NFKC, case-folded, Latin accents stripped, spaces collapsed."""
    text = unicodedata.normalize("NFKC", text or "").translate(_QUOTES).casefold()
    text = "".join(_fold_char(c) for c in text)
    return " ".join(text.split())


_STOPWORDS = {
    "en": "the my is it and to of a in on with what how why when there from this that not "
    "does do can i me his her was has have after smell tv",
    "es": "el la los las mi es y de que en un una por con para se no del al como esta "
    "hay tele televisor lo le",
    "de": "der die das mein meine ist und zu von ein eine nicht mit wie was es auf im "
    "ich hat fernseher riecht aus dem den",
    "fr": "le la les mon ma mes est et de du des un une pas avec comment pourquoi il y a "
    "sur dans je tele televiseur qui sent",
    "it": "il lo la gli le mio mia e di che un una non con come perche c'e sul nel dal "
    "televisore ho si del della",
    "pt": "o a os as meu minha e de que um uma nao com como por que esta tem do da no na "
    "televisao tv em",
}
_STOP_SETS = {lang: set(words.split()) for lang, words in _STOPWORDS.items()}
_WORD_LANGS: dict[str, tuple[str, ...]] = {}
for _lang, _stops in _STOP_SETS.items():
    for _w in _stops:
        _WORD_LANGS[_w] = (*_WORD_LANGS.get(_w, ()), _lang)
_WORD_RE = re.compile(r"[a-z']+")
_HANGUL_RE = re.compile("[\uac00-\ud7a3]")
_KANA_RE = re.compile("[\u3040-\u30ff]")
_HAN_RE = re.compile("[\u4e00-\u9fff]")


def detect_language(text: str, *, normalized: bool = False) -> tuple[str, float]:
    """(language, confidence) by script, then by function words for Latin-script text."""
    raw = text or ""
    if _HANGUL_RE.search(raw):
        return "ko", 0.95
    if _KANA_RE.search(raw):
        return "ja", 0.95
    if _HAN_RE.search(raw):
        return "zh", 0.9
    norm = raw if normalized else normalize(raw)
    words = _WORD_RE.findall(norm)
    if not words:
        return "en", 0.0
    scores = dict.fromkeys(_STOP_SETS, 0)
    for word in words:
        for lang in _WORD_LANGS.get(word, ()):
            scores[lang] += 1
    best = max(scores, key=lambda k: (scores[k], k == "en"))
    total = sum(scores.values())
    if not scores[best]:
        return "en", 0.0
    return best, round(scores[best] / max(total, 1), 3)


# --- the rule set -------------------------------------------------------------------------
_CJK_RE = re.compile("[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7a3]")
_LATIN_RE = re.compile("[a-z]")


@dataclass
class _Compiled:
    rule: SafetyRule
    regex: re.Pattern
    # "cjk": written in CJK/Hangul only (no \\b), skipped on text without such characters;
    # "latin": no CJK in the pattern, skipped on text without Latin letters; "any": always.
    script: str = "any"


@dataclass
class RuleSet:
    """Compiled rules, ready to assess; build with RuleSet.build(rules)."""

    masks: list[_Compiled] = field(default_factory=list)
    hazards: list[_Compiled] = field(default_factory=list)
    benign: list[_Compiled] = field(default_factory=list)
    version: str = "defaults"
    errors: list[str] = field(default_factory=list)  # rules skipped because they don't compile

    @classmethod
    def build(cls, rules: Iterable[SafetyRule], *, version: str = "defaults") -> RuleSet:
        ruleset = cls(version=version)
        for rule in rules:
            try:
                regex = re.compile(rule.pattern, re.S)
            except re.error as exc:
                ruleset.errors.append(f"{rule.name}: {exc}")
                continue
            has_cjk = bool(_CJK_RE.search(rule.pattern))
            script = "latin" if not has_cjk else ("any" if "\\b" in rule.pattern else "cjk")
            compiled = _Compiled(rule, regex, script=script)
            if rule.kind == MASK:
                ruleset.masks.append(compiled)
            elif rule.kind == BENIGN:
                ruleset.benign.append(compiled)
            else:
                ruleset.hazards.append(compiled)
        return ruleset

    def assess(self, question: str) -> SafetyVerdict:
        """The verdict for one question (see the module docstring)."""
        text = normalize(question)
        has_cjk, has_latin = bool(_CJK_RE.search(text)), bool(_LATIN_RE.search(text))

        def applies(c: _Compiled) -> bool:
            if c.script == "cjk":
                return has_cjk
            return has_latin if c.script == "latin" else True

        for mask in self.masks:
            if applies(mask):
                text = mask.regex.sub(" ", text)
        found = [c for c in self.hazards if applies(c) and c.regex.search(text)]
        if not found:
            return SafetyVerdict(hazard=False, confidence=1.0, language="")
        benign = [c for c in self.benign if applies(c) and c.regex.search(text)]
        kept: list[_Compiled] = []
        suppressed: list[tuple[_Compiled, _Compiled]] = []
        for hit in found:
            by = next(
                (
                    b
                    for b in benign
                    if b.rule.category in (hit.rule.category, "any")
                    and hit.rule.confidence < b.rule.confidence
                ),
                None,
            )
            if by is None:
                kept.append(hit)
            else:
                suppressed.append((hit, by))
        if not kept:
            best, by = max(suppressed, key=lambda p: p[0].rule.confidence)
            return SafetyVerdict(
                hazard=False,
                category=best.rule.category,
                confidence=round(1.0 - best.rule.confidence, 3),
                language="",
                suppressed_by=by.rule.name,
                matched=tuple(h.rule.name for h, _ in suppressed),
            )
        language, lang_conf = detect_language(question)
        kept.sort(key=lambda c: -c.rule.confidence)
        top = kept[0].rule
        if lang_conf < 0.5 and top.language:
            language = top.language  # the pattern's language beats a weak guess
        return SafetyVerdict(
            hazard=True,
            category=top.category,
            rule=top.name,
            confidence=top.confidence,
            language=language,
            matched=tuple(c.rule.name for c in kept) + tuple(h.rule.name for h, _ in suppressed),
        )


# --- providers (the database's, installed by generation.safety_store) ----------------------
_lock = threading.Lock()
_default_ruleset: RuleSet | None = None
_ruleset_provider: Callable[[], RuleSet] | None = None
_response_provider: Callable[[str], str | None] | None = None


def default_ruleset() -> RuleSet:
    """The built-in rules, compiled once."""
    global _default_ruleset
    if _default_ruleset is None:
        with _lock:
            if _default_ruleset is None:
                _default_ruleset = RuleSet.build(DEFAULT_RULES)
    return _default_ruleset


def set_providers(
    *,
    ruleset: Callable[[], RuleSet] | None,
    response: Callable[[str], str | None] | None,
) -> None:
    """Install where rules and responses come from (None: the built-in defaults)."""
    global _ruleset_provider, _response_provider
    _ruleset_provider, _response_provider = ruleset, response


def current_ruleset() -> RuleSet:
    """The rules in use now."""
    if _ruleset_provider is not None:
        return _ruleset_provider()
    return default_ruleset()


def assess(question: str, *, ruleset: RuleSet | None = None) -> SafetyVerdict:
    """Does this question report a hazard? Cheap (tens of microseconds); never raises."""
    if not question or not question.strip():
        return SafetyVerdict(hazard=False, confidence=1.0)
    return (ruleset or current_ruleset()).assess(question)


def response_text(language: str) -> str:
    """The safety response in this language (English when there is none)."""
    if _response_provider is not None:
        text = _response_provider(language)
        if text:
            return text
    return DEFAULT_RESPONSES.get(language) or DEFAULT_RESPONSES["en"]


def handoff_answer(question: str, verdict: SafetyVerdict):
    """The Answer a hazard question gets: the fixed safety response, abstained, handed off."""
    from generation.types import Answer

    return Answer(
        question=question,
        text=response_text(verdict.language),
        abstained=True,
        handoff_reason="safety",
        abstain_reason="safety",
        backend="safety",
        model="safety-rules",
        prompt_version=f"safety-{current_ruleset().version}"[:32],
        safety=verdict.to_dict(),
    )


def ruleset_version() -> str:
    """Changes whenever the rules do (part of the answer cache key)."""
    return current_ruleset().version


# --- defaults (data, in their own module) -------------------------------------------------
from generation.safety_defaults import DEFAULT_RESPONSES, DEFAULT_RULES  # noqa: E402


def rules_for_language(language: str, rules: Sequence[SafetyRule] = DEFAULT_RULES) -> list[str]:
    """Names of the hazard rules written in this language (for the admin and the bench)."""
    return [r.name for r in rules if r.kind == HAZARD and r.language == language]
