"""Clean text imported from manuals and PDFs before it is chunked and answered from (no ORM).

Manual sections exported from PDFs carry debris that ends up in answers word for word: UI
buttons ("Try Now"), page markers ("- 88 -"), menu paths whose separators were lost
("Settings General System Manager Time"), sub-headings run into the next sentence and
numbered steps glued to their number ("1.Turn on the TV."). `normalize_body` removes or
repairs these; the stored revision keeps the original, chunks and answers use the result.

What counts as a menu path or a heading is learned from the knowledge base itself
(`build_lexicon`): menu roots are the words that follow "Settings" in front of further
capitalised items at least `MIN_ROOT_COUNT` times, item boundaries are where the paths of
the whole KB branch, and headings are the KB's own article titles. So the rules carry over
to another product's manual without a hand-written list, and leave hand-written Markdown
articles (which have none of these patterns) as they are.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

MENU_ANCHORS = ("Settings",)
MIN_ROOT_COUNT = 3
MENU_SEPARATOR = " > "
# Lower-case words that may sit inside one menu item ("Power On with Mobile").
_ITEM_JOINERS = frozenset(
    ["with", "and", "of", "to", "for", "on", "the", "in", "by", "a", "an", "or", "&"]
)
_UI_DEBRIS_RE = re.compile(r"\bTry Now\b!?")  # no leading \s*: it backtracks on long indents
_PAGE_MARKER_RE = re.compile(r"(?:(?<=\s)|^)-\s?\d{1,4}\s?-(?=\s|$)")
_GLUED_STEP_RE = re.compile(r"(?:(?<=\s)|^)(\d{1,2})\.(?=[A-Z])")
_SPACES_RE = re.compile(r"[ \t]+")
# "Management , then", "Ambient Mode . For", "Decor : Allows", "( Settings": the PDF export
# spaced punctuation away from its word (a lone "." also hid the sentence end from splitting).
_SPACED_PUNCT_RE = re.compile(r"(?<=[^\W\d_]|[)\]\"']) +([,;:!?)\]]|\.(?![\w.]))")
_SPACED_OPEN_RE = re.compile(r"([(\[]) +(?=\w)")
_TOKEN_RE = re.compile(r"\S+")


@dataclass
class Lexicon:
    """What `build_lexicon` learned from a KB: menu roots, item boundaries, headings."""

    roots: frozenset[str] = frozenset()
    # Path prefixes (tuples of words after the anchor) after which a new menu item starts.
    boundaries: frozenset[tuple[str, ...]] = frozenset()
    headings: frozenset[str] = frozenset()
    # Multi-word item names the KB's prose mentions ("set Picture Mode to Movie"): where the
    # paths branch inside a name ("Picture Mode" / "Picture Size"), the name wins.
    names: frozenset[tuple[str, ...]] = frozenset()
    _heading_re: re.Pattern[str] | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        return {
            "roots": sorted(self.roots),
            "boundaries": sorted(list(b) for b in self.boundaries),
            "headings": sorted(self.headings),
            "names": sorted(list(n) for n in self.names),
        }

    @classmethod
    def from_dict(cls, data: dict) -> Lexicon:
        return cls(
            roots=frozenset(data.get("roots", ())),
            boundaries=frozenset(tuple(b) for b in data.get("boundaries", ())),
            headings=frozenset(data.get("headings", ())),
            names=frozenset(tuple(n) for n in data.get("names", ())),
        )

    def heading_pattern(self) -> re.Pattern[str] | None:
        """One regex matching any known heading run into the next sentence."""
        if self._heading_re is None and self.headings:
            titles = sorted(self.headings, key=len, reverse=True)
            alternatives = "|".join(re.escape(t) for t in titles)
            # A heading starts the text or follows a sentence end, and a capitalised word
            # follows it: a mention inside a sentence is left alone.
            self._heading_re = re.compile(rf"(?:(?<=[.!?:])\s+|^)({alternatives})\s+(?=[A-Z])")
        return self._heading_re


# Capitalised words that open the sentence after a path, never a menu item: "... Clock Mode
# Manual When Clock Mode is set to Manual" ends the path before "When". ("This" is not one:
# "About This TV" is an item; "This function ..." ends the path by its lower-case word.)
_RUN_STOPPERS = frozenset(["You", "The", "Your", "If", "When", "Once", "While", "After", "Before"])
MAX_NAME_WORDS = 4


def _is_item_word(word: str) -> bool:
    return bool(word) and (word[0].isupper() or word[0].isdigit() or word[0] in "(+")


def _starts_sentence(words: list[str], i: int) -> bool:
    """A capitalised word followed by a lower-case non-joiner begins a sentence, not an item."""
    if i + 1 >= len(words):
        return False
    nxt = words[i + 1]
    if not nxt[:1].islower():
        return False
    if nxt.lower() not in _ITEM_JOINERS:
        return True
    # "View the current status" is a sentence; "Power On with Mobile" is one item.
    return i + 2 >= len(words) or not _is_item_word(words[i + 2])


def _menu_runs(text: str, roots: frozenset[str] | None) -> Iterable[tuple[int, int, list[str]]]:
    """(start, end, words after the anchor) of each run that looks like a lost menu path."""
    words = [(m.start(), m.end(), m.group(0)) for m in _TOKEN_RE.finditer(text)]
    plain = [w for _, _, w in words]
    i = 0
    while i < len(words):
        word = words[i][2]
        if word not in MENU_ANCHORS or i + 2 >= len(words):
            i += 1
            continue
        j = i + 1
        if words[j][2] in MENU_ANCHORS:  # "Settings Settings General": a lost icon label
            j += 1
        root = words[j][2] if j < len(words) else ""
        if not _is_item_word(root) or (roots is not None and root not in roots):
            i += 1
            continue
        items: list[str] = []
        cut = 0  # characters of punctuation after the run's last word ("Conditions,")
        k = j
        while k < len(words):
            w = words[k][2]
            next_is_root = k + 1 < len(words) and roots is not None and words[k + 1][2] in roots
            if k > j and w in MENU_ANCHORS and next_is_root:
                break  # the next path starts here
            if _is_item_word(w):
                if items and (w in _RUN_STOPPERS or _starts_sentence(plain, k)):
                    break
                bare = w.rstrip(",;:")
                if bare != w:
                    # "Terms & Conditions, Privacy Policy": the punctuation ends the path (its
                    # word included), and stays in the text after it.
                    if bare:
                        items.append(bare)
                        cut = len(w) - len(bare)
                    break
                items.append(w)
            elif w in _ITEM_JOINERS and items and k + 1 < len(words):
                if not _is_item_word(words[k + 1][2]):
                    break
                items.append(w)
            else:
                break
            k += 1
        while items and items[-1] in _ITEM_JOINERS:
            items.pop()
            k -= 1
            cut = 0
        if len(items) >= 2:
            yield words[i][0], words[j + len(items) - 1][1] - cut, items
            i = j + len(items)
        else:
            i += 1


def build_lexicon(documents: Iterable[tuple[str, str]]) -> Lexicon:
    """Learn menu roots, item boundaries and headings from (title, body) pairs of one KB."""
    docs = list(documents)
    root_counts: dict[str, int] = {}
    runs: list[list[str]] = []
    # Each body's cleaned text and the spans of its runs: the prose names are read outside them.
    scanned: list[tuple[str, list[tuple[int, int]]]] = []
    for _, body in docs:
        cleaned = _UI_DEBRIS_RE.sub(" ", body or "")
        spans = []
        for start, end, items in _menu_runs(cleaned, None):
            root_counts[items[0]] = root_counts.get(items[0], 0) + 1
            runs.append(items)
            spans.append((start, end))
        scanned.append((cleaned, spans))
    roots = frozenset(r for r, n in root_counts.items() if n >= MIN_ROOT_COUNT)
    following: dict[tuple[str, ...], set[str]] = {}
    ends: set[tuple[str, ...]] = set()
    for items in runs:
        if items[0] not in roots:
            continue
        for n in range(1, len(items)):
            following.setdefault(tuple(items[:n]), set()).add(items[n])
        ends.add(tuple(items))
    boundaries = {p for p, nxt in following.items() if len(nxt) > 1 or p in ends}
    boundaries |= {(r,) for r in roots}
    headings = frozenset(
        " ".join(title.split())
        for title, _ in docs
        if title and 2 <= len(title.split()) <= 12 and not title.endswith(("-", "/", "("))
    )
    path_words = {w for items in runs if items[0] in roots for w in items}
    names = set()
    for cleaned, spans in scanned:
        for name in _prose_names(cleaned, spans):
            # "Configure Game Motion Plus": the verb in front is no part of the item.
            while name and name[0] not in path_words:
                name = name[1:]
            if len(name) >= 2 and all(w in path_words for w in name):
                names.add(name)
    return Lexicon(
        roots=roots,
        boundaries=frozenset(boundaries),
        headings=headings,
        names=frozenset(names),
    )


def _prose_names(text: str, taken: list[tuple[int, int]]) -> Iterable[tuple[str, ...]]:
    """Capitalised runs of 2..MAX_NAME_WORDS words in the prose outside the menu paths at
    `taken` (their character spans, in order), without the sentence opener in front ("The
    Game Mode Settings may not appear")."""
    current: list[str] = []

    def flush() -> Iterable[tuple[str, ...]]:
        while current and (current[0] in _SENTENCE_OPENERS or current[0] in MENU_ANCHORS):
            current.pop(0)
        while current and current[-1] in _ITEM_JOINERS:
            current.pop()
        if 2 <= len(current) <= MAX_NAME_WORDS:
            yield tuple(current)
        current.clear()

    spans = iter(taken)
    span = next(spans, None)
    for match in _TOKEN_RE.finditer(text):
        while span is not None and match.start() >= span[1]:
            span = next(spans, None)
        word = match.group(0)
        bare = word.rstrip(".,;:!?)")
        inside_path = span is not None and span[0] <= match.start() < span[1]
        if inside_path or not (_is_item_word(bare) or (current and bare in _ITEM_JOINERS)):
            yield from flush()
            continue
        current.append(bare)
        if bare != word:  # punctuation ends the name
            yield from flush()
    yield from flush()


def format_menu_path(items: list[str], lexicon: Lexicon) -> str:
    """'Settings > General > Network > Expert Settings' from the run's words.

    Items end where the KB's paths branch, except that a name the prose uses is one item
    (with the words up to the next name or branch point after it: "Picture Size" +
    "Settings"), and an item never repeats its parent: the paths branch after "Picture
    Picture" only because "Picture Mode" and "Picture Size" share their first word.
    """
    parts: list[list[str]] = []
    current: list[str] = []
    n = 0
    while n < len(items):
        name = None if current else _name_at(items, n, lexicon)
        if name:
            current.extend(items[n : n + name])
            n += name
            goes_on = n < len(items) and _name_at(items, n, lexicon) is None
            if goes_on and tuple(items[:n]) not in lexicon.boundaries:
                continue  # the name's item goes on ("Picture Size" + "Settings")
            parts.append(current)
            current = []
            continue
        current.append(items[n])
        n += 1
        if n < len(items) and tuple(items[:n]) in lexicon.boundaries:
            parts.append(current)
            current = []
    if current:
        parts.append(current)
    merged: list[list[str]] = []
    for part in parts:
        if len(merged) >= 2 and merged[-1] == merged[-2][-len(merged[-1]) :]:
            merged[-1] = merged[-1] + part  # "Picture > Picture > Mode" -> "Picture Mode"
        else:
            merged.append(part)
    return MENU_SEPARATOR.join([MENU_ANCHORS[0], *(" ".join(p) for p in merged)])


def _name_at(items: list[str], n: int, lexicon: Lexicon) -> int | None:
    """The length of the longest known name starting at items[n] (None: no name)."""
    if not lexicon.names:
        return None
    for size in range(min(MAX_NAME_WORDS, len(items) - n), 1, -1):
        if tuple(items[n : n + size]) in lexicon.names:
            return size
    return None


def restore_menu_paths(text: str, lexicon: Lexicon) -> str:
    """Put the separators back into menu paths; end a path with '.' before a new sentence."""
    if not lexicon.roots:
        return text
    out: list[str] = []
    pos = 0
    for start, end, items in _menu_runs(text, lexicon.roots):
        out.append(text[pos:start])
        out.append(format_menu_path(items, lexicon))
        rest = text[end:].lstrip()
        if rest[:1].isupper():
            out.append(".")
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _split_steps(paragraph: str) -> str:
    """'1.Turn on the TV. 2.Start the app.' -> a Markdown list, one step a line."""
    if len(_GLUED_STEP_RE.findall(paragraph)) < 2:
        return paragraph
    pieces = _GLUED_STEP_RE.split(paragraph)
    head, rest = pieces[0].strip(), pieces[1:]
    lines = [head] if head else []
    if head:
        lines.append("")
    for number, step in zip(rest[::2], rest[1::2], strict=True):
        lines.append(f"{number}. {step.strip()}")
    return "\n".join(lines)


# Words that open a sentence of a manual: a short capitalised phrase after a sentence end and
# before one of these (or before a menu path) is a sub-heading that lost its line break.
_SENTENCE_OPENERS = frozenset(
    [
        "You",
        "The",
        "To",
        "When",
        "If",
        "This",
        "These",
        "Use",
        "Select",
        "Press",
        "In",
        "For",
        "A",
        "An",
        "Allows",
        "Displays",
        "Go",
        "Make",
        "After",
        "Before",
        "Connect",
        "Turn",
        "Set",
        "Move",
        "Enter",
        "Open",
        "Check",
        "Only",
        "Some",
        "Your",
        "It",
        "Once",
        "Each",
        "Depending",
        "While",
        "From",
        "On",
        "Choose",
        "Tap",
        "Changes",
        "Shows",
        "Lets",
        "Enables",
        "Sets",
        "Adjusts",
        "Provides",
    ]
)
_STRONG_OPENERS = frozenset(
    ["You", "The", "This", "These", "Your", "A", "An", "In", "To", "If", "When"]
)
_NOT_IN_HEADINGS = frozenset(
    ["is", "are", "was", "were", "can", "will", "may", "must", "does", "should", "has", "have"]
)
_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?])\s+")
MAX_HEADING_WORDS = 9


def _subheading_split(sentence: str) -> tuple[str, str] | None:
    """('Bixby guide', 'You can learn ...') when a sentence starts with a run-in heading."""
    words = sentence.split()
    for n in range(2, min(MAX_HEADING_WORDS, len(words) - 2) + 1):
        nxt = words[n]
        head = words[:n]
        if not head[0][:1].isupper() or head[0] in _SENTENCE_OPENERS:
            return None  # an imperative sentence that lost its period, not a heading
        if any(w.lower() in _NOT_IN_HEADINGS or w == MENU_SEPARATOR.strip() for w in head):
            return None
        if head[-1][-1:] in ",;:" or any(w[-1:] in ".!?:" for w in head):
            return None
        if head[-1].lower() in _ITEM_JOINERS:
            continue  # "Press the": a heading never ends on a joiner
        opens = nxt in _SENTENCE_OPENERS and (words[n + 1][:1].islower() or nxt in _STRONG_OPENERS)
        path = nxt == MENU_ANCHORS[0] and words[n + 1] == MENU_SEPARATOR.strip()
        if opens or path:
            return " ".join(head), " ".join(words[n:])
    return None


def _break_headings(text: str, lexicon: Lexicon) -> str:
    pattern = lexicon.heading_pattern()
    if pattern is not None:
        text = pattern.sub(lambda m: f"\n\n#### {m.group(1)}\n\n", text)
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        if block.startswith("#### "):
            out.append(block)
            continue
        pieces: list[str] = []
        for sentence in _SENTENCE_SPLIT_RE.split(block):
            split = _subheading_split(sentence)
            if split is None:
                pieces.append(sentence)
                continue
            head, rest = split
            out.append(" ".join(pieces)) if pieces else None
            pieces = [rest]
            out.append(f"#### {head}")
        if pieces:
            out.append(" ".join(pieces))
    return "\n\n".join(p for p in out if p.strip())


def normalize_body(body: str, lexicon: Lexicon | None = None) -> str:
    """The cleaned Markdown of one article body (always derived from the original body)."""
    if not body:
        return body or ""
    lexicon = lexicon or Lexicon()
    paragraphs = []
    for paragraph in re.split(r"\n\s*\n", body.replace("\r\n", "\n")):
        if paragraph.lstrip().startswith(("```", "    ", "|")):
            paragraphs.append(paragraph)  # code and tables are left exactly as written
            continue
        text = _UI_DEBRIS_RE.sub("", paragraph)
        text = _PAGE_MARKER_RE.sub(" ", text)
        text = _SPACES_RE.sub(" ", text)
        text = restore_menu_paths(text, lexicon)
        text = _SPACED_OPEN_RE.sub(r"\1", _SPACED_PUNCT_RE.sub(r"\1", text))
        text = _break_headings(text, lexicon)
        text = "\n\n".join(_split_steps(p.strip()) for p in re.split(r"\n\s*\n", text))
        paragraphs.append(text.strip())
    return "\n\n".join(p for p in paragraphs if p.strip())
