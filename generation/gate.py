"""The grounding gate: an LLM's streamed reply is released sentence by sentence, only when grounded.

The model's deltas are buffered until a sentence is complete (its terminator, any citation
markers after it, and the first character of the next sentence have arrived). Each sentence
is then judged against the numbered sources of the prompt:

- it must cite at least one source in range (`[k]`), else it is dropped as "uncited" (or,
  with `attribute_uncited`, it is given the citation of the one source that supports it best
  when that source alone supports it: small models answer well but rarely cite);
- every URL, e-mail address and phone number in it must appear in some source, else it is
  dropped ("unknown_link" / "unknown_contact"): an injected "visit http://evil.example" never
  reaches anyone;
- its cited sources must support it: `support_fn(sentence, cited_sources) >= min_support`
  (default: the share of its content words found in the cited chunks), else "unsupported";
  a sentence in another language than its cited chunks (an LLM answering a Spanish question
  from English sources) shares few words with them, so with `cross_lingual` it may instead
  pass on the multilingual embedder's cosine between it and the cited chunk
  (`CrossLingualSupport`, threshold measured in bench/bench_crosslingual_gate.py);
- a degenerate sentence (a small model looping: "Restart › Restart › Restart ...") is
  dropped ("repetitive"): word-set support cannot see repetition;
- the NO_ANSWER sentinel is never released ("sentinel"), nor echoes of the prompt's own
  scaffolding ("Title: ...", "Question: ...", "<source id=2>": "scaffolding").

Released sentences keep their canonical markers. After the stream ends the caller compares
`report.surviving_share` with its minimum and falls back to the extractive answer when too
little survived. The support function is a parameter so the scoring can be swapped without
touching the gate. No ORM here.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from generation.citations import MARKER_RE, clean_markers, parse_markers, support
from generation.prompts import CANNOT_ANSWER, Source
from generation.text import content_terms, normalize_whitespace
from retrieval.chunking import chunk_embedding_text
from retrieval.embedding import l2_normalize

SupportFn = Callable[[str, Sequence[Source]], float]

# A sentence ends at . ! ? (closing quotes/brackets allowed), then any citation markers, then
# whitespace before a character that is not "[" (a "[" may still be a marker of this
# sentence); or at a line break (list items, headings, paragraphs).
_MARKERS = r"(?:\s*\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\])*"
_SENTENCE_END = re.compile(
    r"[.!?\u2026]+[\"'\u201d\u2019)\]]*" + _MARKERS + r"[ \t]*(?:\n\s*|[ \t]+)(?=[^\s\[])"
    r"|" + _MARKERS + r"[ \t]*\n\s*(?=[^\s\[])"
)

_URL_RE = re.compile(
    r"(?i:\b[a-z][a-z0-9+.-]*://|\bwww\.)[^\s<>\"'\[\]{}|\\^`]+"
    # a bare domain: its top-level part in lower case ("Settings.Menu" is a typo, not a link)
    r"|\b[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[a-z]{2,24}\b"
    r"(?:/[^\s<>\"'\[\]]*)?"
)
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
_PHONE_RE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().\-/]{5,}\d(?![\w.]*\d)")
# Year ranges and IPv4 addresses have phone-like digit runs.
_NOT_A_PHONE = re.compile(r"^(?:\d{4}\s*[-/]\s*\d{4}|\d{1,3}(?:\.\d{1,3}){3})$")
# File names and version-like tokens that the bare-domain pattern would also match.
_NOT_A_DOMAIN = re.compile(r"\.(?:jpe?g|png|gif|pdf|txt|mp[34]|mkv|avi|zip|exe|html?)$", re.I)


# A letter outside the Latin script (Han, Kana, Hangul, Cyrillic, ...): word overlap sees none.
_UNREADABLE_LETTER = re.compile(r"[^\W\d_A-Za-z\u00c0-\u024f]")

# Lines a model copies from the prompt's layout rather than answering.
_SCAFFOLDING = re.compile(
    r"^\s*(?:(?:title|section|question|answer|visibility|source)\s*:|[<\[]\s*/?\s*(?:sources?|question|system)\b)",
    re.IGNORECASE,
)


def lexical_support(sentence: str, cited: Sequence[Source]) -> float:
    """Share of the sentence's content words found in the cited chunks (and their titles)."""
    return support(sentence, " ".join(f"{s.text} {s.title}" for s in cited))


class CrossLingualSupport:
    """Support of a sentence written in another language than its cited chunks (issue 15).

    Word overlap cannot see that "El mando se empareja automáticamente" says what "the remote
    pairs automatically" says; the multilingual embedder (multilingual-e5) puts the two close
    together. A sentence whose detected language is none of its cited chunks' languages is
    scored by its best cosine to one cited chunk (query side for the sentence, passage side for
    the chunk, as the chunks are indexed), and passes at `min_cosine` or above. Sentences in
    the sources' own language, or whose language is unsure, keep the word-overlap test only.
    Chunk vectors are computed once per gate (lazily: most answers never need them).
    """

    kind = "cosine"

    def __init__(
        self,
        *,
        embed_sentences: Callable[[list[str]], np.ndarray],
        embed_chunks: Callable[[list[str]], np.ndarray],
        detect: Callable[[str], str],
        min_cosine: float,
    ) -> None:
        self.embed_sentences = embed_sentences
        self.embed_chunks = embed_chunks
        self.detect = detect  # the sentence's language, "" when unsure
        self.min_cosine = min_cosine
        self._chunk_vectors: dict[int, np.ndarray] = {}

    def applies(self, sentence: str, cited: Sequence[Source]) -> bool:
        """True when the sentence is confidently in a language none of its sources is in."""
        if not cited:
            return False
        language = self.detect(sentence)
        return bool(language) and all(language != (s.locale or "en") for s in cited)

    def score(self, sentence: str, cited: Sequence[Source]) -> float:
        """The best cosine between the sentence and one of its cited chunks."""
        todo = [s for s in cited if s.chunk_id not in self._chunk_vectors]
        if todo:
            vectors = self.embed_chunks([source_embedding_text(s) for s in todo])
            for source, vector in zip(todo, vectors, strict=True):
                self._chunk_vectors[source.chunk_id] = _unit(vector)
        sentence_vector = _unit(self.embed_sentences([sentence])[0])
        return max(float(sentence_vector @ self._chunk_vectors[s.chunk_id]) for s in cited)


def source_embedding_text(source: Source) -> str:
    """The chunk as the index embeds it: title, headings, text (retrieval's own rule)."""
    return chunk_embedding_text(
        title=source.title, heading_path=source.heading_path, text=source.text
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    return l2_normalize(vector)[0]


def fold(text: str) -> str:
    """NFKC, without zero-width/format characters: what the gate (and the prompt) compares."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf")


def _norm_url(url: str) -> str:
    url = url.lower().rstrip(".,;:!?)")
    url = re.sub(r"^[a-z][a-z0-9+.-]*://", "", url)
    url = url.removeprefix("www.")
    return url.rstrip("/")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def find_links(text: str) -> list[str]:
    """URLs and bare domains in text (file names excluded)."""
    links = []
    for m in _URL_RE.finditer(text):
        link = m.group(0).rstrip(".,;:!?)'\"")
        if "@" in text[max(0, m.start() - 1) : m.start()] or _NOT_A_DOMAIN.search(link):
            continue
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", link, flags=re.I).split("/")[0]
        if re.search(r"[a-z]", host.split(".")[-1], re.I):
            links.append(link)
    return links


def find_contacts(text: str) -> tuple[list[str], list[str]]:
    """(e-mail addresses, phone numbers with at least 7 digits) in text."""
    emails = _EMAIL_RE.findall(text)
    phones = [
        m.group(0)
        for m in _PHONE_RE.finditer(text)
        if len(_digits(m.group(0))) >= 7 and not _NOT_A_PHONE.match(m.group(0).strip())
    ]
    return emails, phones


class _SourceFacts:
    """What the sources allow: their links, e-mail addresses and phone numbers, normalised."""

    def __init__(self, sources: Sequence[Source]) -> None:
        text = fold(" ".join(f"{s.title} {s.heading_path} {s.text}" for s in sources))
        self.text_lower = text.lower()
        self.links = {_norm_url(u) for u in find_links(text)}
        emails, phones = find_contacts(text)
        self.emails = {e.lower() for e in emails}
        self.phones = {_digits(p) for p in phones}

    def link_known(self, url: str) -> bool:
        norm = _norm_url(url)
        return norm in self.links or any(link.startswith(norm) for link in self.links)

    def email_known(self, email: str) -> bool:
        return email.lower() in self.emails

    def phone_known(self, phone: str) -> bool:
        digits = _digits(phone)
        return any(digits in known or known in digits for known in self.phones if known)


@dataclass
class Verdict:
    """One sentence of the draft and what the gate decided."""

    text: str  # with canonical markers
    numbers: list[int]
    released: bool
    reason: str = ""  # why it was dropped: uncited, unsupported, unknown_link, ...
    support: float = 0.0
    support_kind: str = "lexical"  # "cosine": judged across languages (CrossLingualSupport)
    attributed: bool = False  # uncited by the model; the gate added the supporting source


@dataclass
class GateReport:
    verdicts: list[Verdict] = field(default_factory=list)
    released_text: str = ""
    draft_text: str = ""

    @property
    def sentences(self) -> int:
        return len(self.verdicts)

    @property
    def released(self) -> int:
        return sum(v.released for v in self.verdicts)

    @property
    def cited_any(self) -> bool:
        return any(v.numbers for v in self.verdicts)

    @property
    def surviving_share(self) -> float:
        """Released / judged sentences; echoed prompt scaffolding is no claim and not counted."""
        claims = sum(v.reason != "scaffolding" for v in self.verdicts)
        return self.released / claims if claims else 0.0

    def summary(self, *, include_text: bool) -> dict[str, Any]:
        """JSON-ready: counts and reasons; the dropped sentences' text only when asked (agents)."""
        out: dict[str, Any] = {
            "sentences": self.sentences,
            "released": self.released,
            "surviving_share": round(self.surviving_share, 4),
            "dropped": dict(Counter(v.reason for v in self.verdicts if not v.released)),
        }
        attributed = sum(v.attributed and v.released for v in self.verdicts)
        if attributed:
            out["attributed"] = attributed
        if include_text:
            out["dropped_sentences"] = [
                {
                    "text": v.text,
                    "reason": v.reason,
                    "support": round(v.support, 4),
                    "support_kind": v.support_kind,
                }
                for v in self.verdicts
                if not v.released
            ]
        cross_lingual = sum(v.support_kind == "cosine" and v.released for v in self.verdicts)
        if cross_lingual:
            out["released_cross_lingual"] = cross_lingual
        return out


class GroundingGate:
    """Feed it the model's deltas; it yields the text that may be shown, sentence by sentence."""

    def __init__(
        self,
        sources: Sequence[Source],
        *,
        min_support: float,
        support_fn: SupportFn = lexical_support,
        attribute_uncited: bool = False,
        cross_lingual: CrossLingualSupport | None = None,
    ) -> None:
        self.attribute_uncited = attribute_uncited
        self.cross_lingual = cross_lingual
        self.by_number = {s.number: s for s in sources}
        self.n_sources = max(self.by_number, default=0)
        self.min_support = min_support
        self.support_fn = support_fn
        self.facts = _SourceFacts(sources)
        self.report = GateReport()
        self._pending = ""  # text not yet cut into a sentence
        self._carry = ""  # a fragment with no content words, judged with the next sentence
        self._draft: list[str] = []

    @property
    def draft(self) -> str:
        """Everything the model has written so far (unchecked)."""
        return "".join(self._draft).strip()

    # --- streaming ------------------------------------------------------------------------
    def feed(self, delta: str) -> Iterator[str]:
        """Take one delta; yield the released text (with its leading separator), if any."""
        self._draft.append(delta)
        self._pending += delta
        while True:
            match = _SENTENCE_END.search(self._pending)
            if not match:
                return
            raw, self._pending = self._pending[: match.end()], self._pending[match.end() :]
            out = self._judge(raw, final=False)
            if out:
                yield out

    def finish(self) -> Iterator[str]:
        """The stream ended: judge what is left (yields its released text, if any)."""
        raw, self._pending = self._pending, ""
        out = self._judge(raw, final=True)
        if out:
            yield out
        self.report.draft_text = self.draft

    def run(self, deltas: Sequence[str] | Iterator[str]) -> GateReport:
        """Gate a whole reply at once (tests, the bench)."""
        for delta in deltas:
            for _ in self.feed(delta):
                pass
        for _ in self.finish():
            pass
        return self.report

    # --- judging --------------------------------------------------------------------------
    def _judge(self, raw: str, *, final: bool) -> str:
        raw = self._carry + raw
        self._carry = ""
        text = fold(raw).strip()
        if not text:
            return ""
        if not final and not content_terms(MARKER_RE.sub("", text)) and CANNOT_ANSWER not in text:
            # "e.g.", "1.", "Yes." alone: no claim to check; judge it with what follows.
            self._carry = raw
            return ""
        verdict = self.judge(text)
        self.report.verdicts.append(verdict)
        if not verdict.released:
            return ""
        separator = "" if not self.report.released_text else " "
        self.report.released_text += separator + verdict.text
        return separator + verdict.text

    def judge(self, sentence: str) -> Verdict:
        """Decide one sentence (already folded)."""
        cleaned = clean_markers(sentence, self.n_sources)
        numbers: list[int] = []
        for group in parse_markers(cleaned):
            numbers.extend(n for n in group if n not in numbers)
        plain = normalize_whitespace(MARKER_RE.sub("", cleaned))
        verdict = Verdict(text=cleaned, numbers=numbers, released=False)
        if CANNOT_ANSWER in plain:
            verdict.reason = "sentinel"
            return verdict
        if _SCAFFOLDING.match(plain) or _SCAFFOLDING.match(sentence):
            verdict.reason = "scaffolding"
            return verdict
        if not numbers:
            best = self._best_source(plain) if self.attribute_uncited else None
            if best is None:
                verdict.reason = "uncited"
                return verdict
            numbers = verdict.numbers = [best]
            verdict.attributed = True
            verdict.text = _add_marker(cleaned, best)
        emails, phones = find_contacts(plain)
        without_emails = _EMAIL_RE.sub(" ", plain)
        if any(not self.facts.link_known(u) for u in find_links(without_emails)):
            verdict.reason = "unknown_link"
            return verdict
        if any(not self.facts.email_known(e) for e in emails) or any(
            not self.facts.phone_known(p) for p in phones
        ):
            verdict.reason = "unknown_contact"
            return verdict
        if _repetitive(plain):
            verdict.reason = "repetitive"
            return verdict
        cited = [self.by_number[n] for n in numbers if n in self.by_number]
        verdict.support, verdict.support_kind, supported = self._support(plain, cited)
        if not supported:
            verdict.reason = "unsupported"
            return verdict
        verdict.released = True
        return verdict

    def _support(self, plain: str, cited: Sequence[Source]) -> tuple[float, str, bool]:
        """(score, kind, supported): word overlap first; across languages, the cosine.

        Word overlap reads Latin-script words only: a Chinese claim used to get the vacuous
        "nothing to check" 1.0 (or be judged on its one "HDMI") and pass whatever it said. A
        sentence with such letters is now judged by the cosine whatever its language, and is
        unsupported without the cross-lingual test.
        """
        unreadable = len(_UNREADABLE_LETTER.findall(plain)) >= 2
        lexical = 0.0 if unreadable else float(self.support_fn(plain, cited))
        if lexical >= self.min_support:
            return lexical, "lexical", True
        cross = self.cross_lingual
        if cross is not None and cited and (unreadable or cross.applies(plain, cited)):
            cosine = cross.score(plain, cited)
            return cosine, cross.kind, cosine >= cross.min_cosine
        return lexical, "lexical", False

    def _best_source(self, plain: str) -> int | None:
        """The number of the source that alone best supports the sentence, if it does."""
        if not content_terms(plain):
            return None
        # Word overlap outranks a cosine (scores on different scales); ties: the lower number.
        passing = [
            (kind == "lexical", score, -n)
            for n, s in self.by_number.items()
            for score, kind, ok in [self._support(plain, [s])]
            if ok
        ]
        return -max(passing)[2] if passing else None


def _repetitive(plain: str) -> bool:
    """Mostly the same few words again and again (at least 12 content words, under 40% distinct)."""
    terms = content_terms(plain)
    return len(terms) >= 12 and len(set(terms)) < 0.4 * len(terms)


def _add_marker(sentence: str, number: int) -> str:
    """Put [number] before the sentence's final punctuation."""
    match = re.search(r"([.!?\u2026]+[\"'\u201d\u2019)]*)$", sentence)
    if match:
        return f"{sentence[: match.start()].rstrip()} [{number}]{match.group(1)}"
    return f"{sentence.rstrip()} [{number}]"


def gate_text(
    text: str,
    sources: Sequence[Source],
    *,
    min_support: float,
    support_fn: SupportFn = lexical_support,
    attribute_uncited: bool = False,
    cross_lingual: CrossLingualSupport | None = None,
) -> GateReport:
    """Gate a whole reply (as one delta)."""
    gate = GroundingGate(
        sources,
        min_support=min_support,
        support_fn=support_fn,
        attribute_uncited=attribute_uncited,
        cross_lingual=cross_lingual,
    )
    return gate.run([text])
