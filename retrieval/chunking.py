"""Split a Markdown article into search chunks that follow its structure (no ORM).

Each chunk keeps the heading path it sits under ("Setup > Network"). Chunks aim at about
`target_tokens` tokens with `overlap_tokens` carried over between neighbours. Atomic units
are never cut in the middle: a list item, a table row and a code block line stay whole
(a table or code block that is too long is split between rows/lines, never inside one).
Only a single paragraph or list item larger than the whole target is split, at sentence
boundaries, because there is no other choice.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

# A rough but stable token estimate: MiniLM's WordPiece yields ~1.3 tokens per English word.
TOKENS_PER_WORD = 1.3

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_SETEXT_RE = re.compile(r"^(=+|-+)\s*$")
_FENCE_RE = re.compile(r"^\s*(```|~~~)")
_LIST_ITEM_RE = re.compile(r"^(\s*)([-*+]|\d+[.)])\s+")
_TABLE_ROW_RE = re.compile(r"^\s*\|")
_TABLE_SEP_RE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(\|\s*:?-{2,}:?\s*)*\|?\s*$")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class TextChunk:
    position: int
    text: str
    heading_path: str
    tokens: int


@dataclass
class _Unit:
    """Smallest piece that is never split: a paragraph, list item, table row, code line."""

    text: str
    kind: str  # "para" | "item" | "row" | "code"
    group: int  # units of one list/table/code block share a group (joined with "\n")

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.text)


def estimate_tokens(text: str) -> int:
    """Approximate model tokens of `text` (words * 1.3, at least 1 for non-empty text)."""
    words = len(text.split())
    return max(1, round(words * TOKENS_PER_WORD)) if words else 0


def chunk_embedding_text(*, title: str, heading_path: str, text: str) -> str:
    """What is embedded and lexically indexed for a chunk: title and headings are strong signals."""
    parts = [title.strip()]
    if heading_path and heading_path.strip() != title.strip():
        parts.append(heading_path.strip())
    parts.append(text.strip())
    return "\n".join(p for p in parts if p)


def content_hash(text: str) -> str:
    """Stable hash of the exact text an embedding was computed from."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _strip_inline(text: str) -> str:
    # Headings keep their words, not their Markdown emphasis or link syntax.
    text = re.sub(r"!\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    return re.sub(r"[*_`]+", "", text).strip()


def _parse_sections(markdown: str) -> list[tuple[str, list[_Unit]]]:
    """Markdown to [(heading_path, units)], one entry per heading section, in order."""
    lines = markdown.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    sections: list[tuple[str, list[_Unit]]] = []
    stack: list[tuple[int, str]] = []
    units: list[_Unit] = []
    group = 0
    para: list[str] = []
    item: list[str] = []
    in_list = False

    def path() -> str:
        return " > ".join(t for _, t in stack if t)

    def flush_para() -> None:
        nonlocal group
        if para:
            group += 1
            units.append(_Unit(" ".join(s.strip() for s in para), "para", group))
            para.clear()

    def flush_item() -> None:
        if item:
            units.append(_Unit("\n".join(item).rstrip(), "item", group))
            item.clear()

    def end_list() -> None:
        nonlocal in_list
        flush_item()
        in_list = False

    def close_section() -> None:
        flush_para()
        end_list()
        if units:
            sections.append((path(), list(units)))
            units.clear()

    def open_heading(level: int, text: str) -> None:
        close_section()
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, _strip_inline(text)))

    i = 0
    while i < len(lines):
        line = lines[i]
        heading = _HEADING_RE.match(line)
        if heading and not line.startswith("    "):
            open_heading(len(heading.group(1)), heading.group(2))
            i += 1
            continue
        # Setext heading: a paragraph line underlined with === or ---.
        if para and len(para) == 1 and not in_list and _SETEXT_RE.match(line) and line.strip():
            text = para.pop()
            open_heading(1 if line.strip().startswith("=") else 2, text)
            i += 1
            continue
        fence = _FENCE_RE.match(line)
        if fence:
            flush_para()
            end_list()
            group += 1
            marker = fence.group(1)
            block = [line]
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                block.append(lines[i])
                i += 1
            if i < len(lines):
                block.append(lines[i])
                i += 1
            # A code block is one unit unless it is long; then it is split between lines
            # (each unit then re-opens/closes the fence so every chunk stays valid Markdown).
            units.append(_Unit("\n".join(block), "code", group))
            continue
        if _TABLE_ROW_RE.match(line):
            flush_para()
            end_list()
            group += 1
            while i < len(lines) and _TABLE_ROW_RE.match(lines[i]):
                units.append(_Unit(lines[i].strip(), "row", group))
                i += 1
            continue
        list_item = _LIST_ITEM_RE.match(line)
        if list_item:
            flush_para()
            if not in_list:
                group += 1
                in_list = True
            if list_item.group(1) and item:
                # A nested item belongs to its parent item: kept together.
                item.append(line.rstrip())
                i += 1
                continue
            flush_item()
            item.append(line.rstrip())
            i += 1
            continue
        if not line.strip():
            flush_para()
            if in_list:
                # A blank line inside a list: the list goes on if the next line is indented
                # or is another item.
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if not (nxt.startswith("  ") or _LIST_ITEM_RE.match(nxt)):
                    end_list()
            i += 1
            continue
        if in_list and (line.startswith("  ") or line.startswith("\t")) and item:
            item.append(line.rstrip())
            i += 1
            continue
        if in_list and item and not line.startswith(" "):
            # Lazy continuation of the item's text.
            item.append(line.rstrip())
            i += 1
            continue
        end_list()
        para.append(line)
        i += 1
    close_section()
    return sections


def _split_big_unit(unit: _Unit, target: int) -> list[_Unit]:
    """Split one unit larger than the target: code between lines, text between sentences."""
    if unit.kind == "code":
        lines = unit.text.split("\n")
        fence_open = lines[0] if _FENCE_RE.match(lines[0]) else ""
        fence_close = lines[-1] if len(lines) > 1 and _FENCE_RE.match(lines[-1]) else ""
        body = lines[1:-1] if fence_open and fence_close else lines
        pieces: list[list[str]] = []
        current: list[str] = []
        for ln in body:
            if current and estimate_tokens("\n".join([*current, ln])) > target:
                pieces.append(current)
                current = []
            current.append(ln)
        if current:
            pieces.append(current)
        return [
            _Unit("\n".join([fence_open, *p, fence_close]).strip("\n"), "code", unit.group)
            for p in pieces
        ]
    sentences = [s for s in _SENTENCE_RE.split(unit.text) if s.strip()]
    out: list[_Unit] = []
    current_s: list[str] = []
    for sentence in sentences:
        words = sentence.split()
        # A single "sentence" longer than the target (no punctuation): cut by words.
        while estimate_tokens(sentence) > target:
            n = max(1, int(target / TOKENS_PER_WORD))
            if current_s:
                out.append(_Unit(" ".join(current_s), unit.kind, unit.group))
                current_s = []
            out.append(_Unit(" ".join(words[:n]), unit.kind, unit.group))
            words = words[n:]
            sentence = " ".join(words)
        if not sentence:
            continue
        if current_s and estimate_tokens(" ".join([*current_s, sentence])) > target:
            out.append(_Unit(" ".join(current_s), unit.kind, unit.group))
            current_s = []
        current_s.append(sentence)
    if current_s:
        out.append(_Unit(" ".join(current_s), unit.kind, unit.group))
    return out


def _join(units: list[_Unit]) -> str:
    parts: list[str] = []
    prev_group = None
    for unit in units:
        if parts:
            parts.append("\n" if unit.group == prev_group and unit.kind != "para" else "\n\n")
        parts.append(unit.text)
        prev_group = unit.group
    return "".join(parts).strip()


def _overlap_tail(units: list[_Unit], overlap: int) -> list[_Unit]:
    """The trailing whole units of a chunk worth at most `overlap` tokens."""
    tail: list[_Unit] = []
    total = 0
    for unit in reversed(units):
        if total + unit.tokens > overlap:
            break
        tail.insert(0, unit)
        total += unit.tokens
    if not tail and units and units[-1].kind == "para" and overlap > 0:
        # The last paragraph is bigger than the overlap: carry its last sentences instead.
        sentences = [s for s in _SENTENCE_RE.split(units[-1].text) if s.strip()]
        carry: list[str] = []
        for sentence in reversed(sentences):
            if estimate_tokens(" ".join([sentence, *carry])) > overlap:
                break
            carry.insert(0, sentence)
        if carry and len(carry) < len(sentences):
            tail = [_Unit(" ".join(carry), "para", -1)]
    return tail


def chunk_markdown(
    markdown: str, *, target_tokens: int = 256, overlap_tokens: int = 40
) -> list[TextChunk]:
    """Chunk a Markdown body into TextChunks in reading order (positions 0..n-1)."""
    if target_tokens < 8:
        raise ValueError("target_tokens must be at least 8")
    overlap_tokens = max(0, min(overlap_tokens, target_tokens // 2))
    chunks: list[TextChunk] = []
    for heading_path, raw_units in _parse_sections(markdown or ""):
        units: list[_Unit] = []
        for unit in raw_units:
            # Big units are cut a little under the target so the overlap still fits beside them.
            limit = target_tokens - overlap_tokens
            units.extend(_split_big_unit(unit, limit) if unit.tokens > target_tokens else [unit])
        current: list[_Unit] = []
        fresh = 0  # units in `current` that are not overlap carried from the previous chunk
        for unit in units:
            total = sum(u.tokens for u in current)
            if current and fresh and total + unit.tokens > target_tokens:
                chunks.append(_make_chunk(len(chunks), current, heading_path))
                current = _overlap_tail(current, overlap_tokens)
                # Never let the carried overlap push the next unit over the target.
                while current and sum(u.tokens for u in current) + unit.tokens > target_tokens:
                    current.pop(0)
                fresh = 0
            current.append(unit)
            fresh += 1
        if current and fresh:
            chunks.append(_make_chunk(len(chunks), current, heading_path))
    if not chunks and markdown and markdown.strip():
        text = markdown.strip()
        chunks.append(TextChunk(0, text, "", estimate_tokens(text)))
    return chunks


def _make_chunk(position: int, units: list[_Unit], heading_path: str) -> TextChunk:
    text = _join(units)
    return TextChunk(position, text, heading_path, estimate_tokens(text))
