"""Server-side charts as inline SVG: no JavaScript library, readable without CSS.

Each chart carries role="img", a <title> and a description, and every bar has its own
<title> tooltip; the pages also show the same numbers in a table beside the chart.
Plain module: no Django imports.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape


def _fmt(value: float) -> str:
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"


def column_chart(
    points: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 720,
    height: int = 220,
    label_every: int | None = None,
) -> str:
    """Vertical bars (e.g. questions per day), x labels thinned out to stay readable."""
    pad_left, pad_bottom, pad_top = 36, 28, 10
    plot_w, plot_h = width - pad_left - 6, height - pad_bottom - pad_top
    top = max((v for _, v in points), default=0) or 1
    n = max(len(points), 1)
    slot = plot_w / n
    bar = max(slot * 0.75, 1)
    every = label_every or max(1, n // 8)
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="t-{abs(hash(title))}">',
        f'<title id="t-{abs(hash(title))}">{escape(title)}</title>',
        f'<line x1="{pad_left}" y1="{pad_top + plot_h}" x2="{width - 6}" '
        f'y2="{pad_top + plot_h}" class="axis"/>',
        f'<text x="{pad_left - 4}" y="{pad_top + 8}" text-anchor="end" class="tick">'
        f"{_fmt(top)}</text>",
        f'<text x="{pad_left - 4}" y="{pad_top + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    for i, (label, value) in enumerate(points):
        h = plot_h * (value / top)
        x = pad_left + i * slot + (slot - bar) / 2
        y = pad_top + plot_h - h
        parts.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" class="bar">'
            f"<title>{escape(label)}: {_fmt(value)}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                f'class="tick">{escape(label)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    rows: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    row_height: int = 22,
    percent: bool = False,
) -> str:
    """Horizontal bars with their labels (top searches, top articles, rates)."""
    label_w, value_w = 220, 56
    plot_w = width - label_w - value_w
    top = 1.0 if percent else (max((v for _, v in rows), default=0) or 1)
    height = max(len(rows), 1) * row_height + 6
    tid = f"t-{abs(hash(title))}"
    parts = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="{tid}">',
        f'<title id="{tid}">{escape(title)}</title>',
    ]
    for i, (label, value) in enumerate(rows):
        y = 3 + i * row_height
        w = plot_w * (value / top) if top else 0
        shown = f"{value * 100:.0f}%" if percent else _fmt(value)
        short = label if len(label) <= 34 else label[:33] + "…"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + row_height * 0.65:.1f}" text-anchor="end" '
            f'class="tick">{escape(short)}</text>'
            f'<rect x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_height - 6}" '
            f'class="bar"><title>{escape(label)}: {shown}</title></rect>'
            f'<text x="{label_w + w + 4:.1f}" y="{y + row_height * 0.65:.1f}" class="tick">'
            f"{shown}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)
