"""Readable, HTML-escaped diffs between two revision texts (history, review queue, conflicts).

Line-level unified diff from difflib; changed lines that pair up get word-level <ins>/<del>
marks so a one-word fix is visible at a glance. Every piece of text is escaped before markup
is added, so a diff of hostile text is as safe as the text itself.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from html import escape

_TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
# difflib is quadratic in the worst case (a 4 KB revision once froze the review queue for
# 11 s): word marks only for lines and texts below these sizes; larger texts get a line diff,
# and very long texts let difflib skip popular lines (autojunk) to stay near-linear.
WORD_DIFF_MAX_LINE_CHARS = 400
WORD_DIFF_MAX_TEXT_CHARS = 20_000
EXACT_LINE_DIFF_MAX_LINES = 2_000
MAX_DIFF_ROWS = 2_000  # rows shown; the rest is summarised in one "skip" row


@dataclass(frozen=True)
class DiffLine:
    kind: str  # "same", "add", "del", "skip"
    old_no: int | None
    new_no: int | None
    html: str  # escaped, with <ins>/<del> marks for changed words


def _words_diff(old: str, new: str, *, words: bool = True) -> tuple[str, str]:
    if not words or max(len(old), len(new)) > WORD_DIFF_MAX_LINE_CHARS:
        return f"<del>{escape(old)}</del>", f"<ins>{escape(new)}</ins>"
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    if matcher.ratio() < 0.35:
        # Unrelated lines: word marks would only highlight shared spaces and commas.
        return f"<del>{escape(old)}</del>", f"<ins>{escape(new)}</ins>"
    old_html: list[str] = []
    new_html: list[str] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        left, right = escape("".join(a[i1:i2])), escape("".join(b[j1:j2]))
        if op == "equal":
            old_html.append(left)
            new_html.append(right)
            continue
        if left:
            old_html.append(f"<del>{left}</del>")
        if right:
            new_html.append(f"<ins>{right}</ins>")
    return "".join(old_html), "".join(new_html)


def _line_matcher(a: list[str], b: list[str]) -> difflib.SequenceMatcher:
    exact = len(a) + len(b) <= EXACT_LINE_DIFF_MAX_LINES
    return difflib.SequenceMatcher(None, a, b, autojunk=not exact)


def _word_marks_wanted(old: str, new: str) -> bool:
    return len(old or "") + len(new or "") <= WORD_DIFF_MAX_TEXT_CHARS


def diff_lines(old: str, new: str, *, context: int = 3) -> list[DiffLine]:
    """Unified diff of two texts as rows ready for a template (already escaped)."""
    a, b = (old or "").splitlines(), (new or "").splitlines()
    words = _word_marks_wanted(old, new)
    matcher = _line_matcher(a, b)
    rows: list[DiffLine] = []
    for group in matcher.get_grouped_opcodes(context):
        if len(rows) >= MAX_DIFF_ROWS:
            rows.append(DiffLine("skip", None, None, "… (diff too long: the rest is not shown)"))
            break
        if rows:
            rows.append(DiffLine("skip", None, None, "…"))
        for op, i1, i2, j1, j2 in group:
            if op == "equal":
                for k in range(i2 - i1):
                    rows.append(DiffLine("same", i1 + k + 1, j1 + k + 1, escape(a[i1 + k])))
                continue
            olds, news = a[i1:i2][:MAX_DIFF_ROWS], b[j1:j2][:MAX_DIFF_ROWS]
            if op == "replace" and len(olds) == len(news):
                pairs = [_words_diff(o, n, words=words) for o, n in zip(olds, news, strict=True)]
                for k, (o_html, _) in enumerate(pairs):
                    rows.append(DiffLine("del", i1 + k + 1, None, o_html))
                for k, (_, n_html) in enumerate(pairs):
                    rows.append(DiffLine("add", None, j1 + k + 1, n_html))
                continue
            for k, line in enumerate(olds):
                rows.append(DiffLine("del", i1 + k + 1, None, f"<del>{escape(line)}</del>"))
            for k, line in enumerate(news):
                rows.append(DiffLine("add", None, j1 + k + 1, f"<ins>{escape(line)}</ins>"))
    return rows


def diff_stats(rows: list[DiffLine]) -> dict[str, int]:
    return {
        "added": sum(1 for r in rows if r.kind == "add"),
        "removed": sum(1 for r in rows if r.kind == "del"),
    }


@dataclass(frozen=True)
class SplitRow:
    kind: str  # "same", "change", "skip"
    old_no: int | None
    old_html: str
    new_no: int | None
    new_html: str


def diff_split(old: str, new: str, *, context: int = 3) -> list[SplitRow]:
    """Side-by-side diff rows: old text left, new text right, changed lines paired."""
    a, b = (old or "").splitlines(), (new or "").splitlines()
    words = _word_marks_wanted(old, new)
    matcher = _line_matcher(a, b)
    rows: list[SplitRow] = []
    for group in matcher.get_grouped_opcodes(context):
        if len(rows) >= MAX_DIFF_ROWS:
            rows.append(SplitRow("skip", None, "… (diff too long)", None, "…"))
            break
        if rows:
            rows.append(SplitRow("skip", None, "…", None, "…"))
        for op, i1, i2, j1, j2 in group:
            if op == "equal":
                for k in range(i2 - i1):
                    line = escape(a[i1 + k])
                    rows.append(SplitRow("same", i1 + k + 1, line, j1 + k + 1, line))
                continue
            olds, news = a[i1:i2][:MAX_DIFF_ROWS], b[j1:j2][:MAX_DIFF_ROWS]
            for k in range(max(len(olds), len(news))):
                o = olds[k] if k < len(olds) else None
                n = news[k] if k < len(news) else None
                if o is not None and n is not None:
                    o_html, n_html = _words_diff(o, n, words=words)
                else:
                    o_html = f"<del>{escape(o)}</del>" if o is not None else ""
                    n_html = f"<ins>{escape(n)}</ins>" if n is not None else ""
                rows.append(
                    SplitRow(
                        "change",
                        i1 + k + 1 if o is not None else None,
                        o_html,
                        j1 + k + 1 if n is not None else None,
                        n_html,
                    )
                )
    return rows
