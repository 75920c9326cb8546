"""Which language a question is written in (no ORM).

A detector is a kind behind a Protocol and a registry (LANGUAGE_DETECTOR): `py3langid`
(naive Bayes over byte n-grams, its 4.6 MB model inside the wheel, ~0.1 ms a question)
is the default, chosen by bench/bench_multilingual.py against lingua (96 MB wheel, same
accuracy on our questions) and `off` (always the site language).

Short, mixed, transliterated or emoji-only text gives a low confidence: below
LANGUAGE_DETECTION_MIN_CONFIDENCE the site language is used, never an error.
"""

from __future__ import annotations

import functools
import re
import threading
import unicodedata
from dataclasses import dataclass
from typing import Protocol

# Languages the analyzers, messages and bench know; the detector is restricted to the
# configured subset (restricting also stops near neighbours such as gl/es, yue/zh mixing).
KNOWN_LANGUAGES = ("en", "es", "de", "fr", "zh")
# Fewer letters than this carry too little evidence to leave the site language (one-word
# questions, "wifi?", model numbers); Han characters count double (one is a word).
MIN_LETTERS = 8
_HAN_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Detection:
    """The language used for a text: `detected` is the detector's guess before the fallback."""

    language: str
    confidence: float
    detected: str
    fallback: bool


class LanguageDetector(Protocol):
    name: str

    def guess(self, text: str) -> tuple[str, float]:
        """(ISO 639-1 code, 0..1 confidence) among the candidate languages."""
        ...


class Py3LangidDetector:
    """py3langid restricted to the candidate languages, with normalised probabilities."""

    name = "py3langid"

    def __init__(self, languages: tuple[str, ...]) -> None:
        from py3langid.langid import MODEL_FILE, LanguageIdentifier

        self._identifier = LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)
        self._identifier.set_languages(list(languages))

    def guess(self, text: str) -> tuple[str, float]:
        language, confidence = self._identifier.classify(text)
        return str(language), float(confidence)


class FixedDetector:
    """Detection switched off: every text is in the first candidate (the site) language."""

    name = "off"

    def __init__(self, languages: tuple[str, ...]) -> None:
        self._language = languages[0]

    def guess(self, text: str) -> tuple[str, float]:
        return self._language, 0.0


DETECTORS: dict[str, type] = {"py3langid": Py3LangidDetector, "off": FixedDetector}

_detectors: dict[tuple[str, tuple[str, ...]], LanguageDetector] = {}
_lock = threading.Lock()


def get_detector(name: str, languages: tuple[str, ...]) -> LanguageDetector:
    """One detector per process, kind and candidate list (the model loads once)."""
    if name not in DETECTORS:
        raise ValueError(f"unknown language detector {name!r}: one of {sorted(DETECTORS)}")
    key = (name, languages)
    with _lock:
        if key not in _detectors:
            _detectors[key] = DETECTORS[name](languages)
        return _detectors[key]


def base_language(code: str) -> str:
    """'en-us' -> 'en', 'zh-hans' -> 'zh'."""
    return (code or "").replace("_", "-").split("-")[0].lower()


def _letters(text: str) -> int:
    count = 0
    for ch in text:
        if _HAN_RE.match(ch):
            count += 2
        elif unicodedata.category(ch).startswith("L"):
            count += 1
    return count


def detect(
    text: str,
    *,
    detector: LanguageDetector,
    site_language: str,
    min_confidence: float,
    languages: tuple[str, ...],
) -> Detection:
    """The question's language, or the site language when the evidence is weak."""
    site = base_language(site_language) or "en"
    sample = " ".join((text or "").split())[:2000]  # the first lines decide; long text is slow
    if _letters(sample) < MIN_LETTERS:
        return Detection(site, 0.0, "", True)
    try:
        guess, confidence = detector.guess(sample)
    except Exception:  # a detector bug must never fail a search
        return Detection(site, 0.0, "", True)
    guess = base_language(guess)
    if guess not in languages or confidence < min_confidence:
        return Detection(site, round(confidence, 4), guess, True)
    return Detection(guess, round(confidence, 4), guess, False)


@functools.lru_cache(maxsize=4096)
def _cached(
    text: str, name: str, site: str, min_confidence: float, languages: tuple[str, ...]
) -> Detection:
    return detect(
        text,
        detector=get_detector(name, languages),
        site_language=site,
        min_confidence=min_confidence,
        languages=languages,
    )


def detect_configured(text: str) -> Detection:
    """`detect` with LANGUAGE_DETECTOR, SEARCH_LANGUAGES, LANGUAGE_CODE from settings."""
    from django.conf import settings

    languages = tuple(settings.SEARCH_LANGUAGES)
    return _cached(
        text or "",
        settings.LANGUAGE_DETECTOR,
        settings.LANGUAGE_CODE,
        settings.LANGUAGE_DETECTION_MIN_CONFIDENCE,
        languages,
    )
