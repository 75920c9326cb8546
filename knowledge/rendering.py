"""Markdown to sanitized HTML for article bodies (editor preview, portal, agent assist).

Markdown passes raw HTML through, so the rendered HTML is untrusted: nh3 (ammonia) keeps
only an allowlist of tags, attributes and URL schemes. Scripts, event handlers, iframes,
inline styles and javascript:/data: URLs never survive.
"""

from __future__ import annotations

import re

import markdown
import nh3

ALLOWED_TAGS = frozenset(
    {
        "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em",
        "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark",
        "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody", "td",
        "tfoot", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "img": {"src", "alt", "title", "width", "height"},
    "th": {"align", "colspan", "rowspan"},
    "td": {"align", "colspan", "rowspan"},
    "ol": {"start"},
    # Heading ids come from the toc extension: in-page anchors for long articles.
    "h1": {"id"}, "h2": {"id"}, "h3": {"id"}, "h4": {"id"}, "h5": {"id"}, "h6": {"id"},
    # fenced_code marks the language ("language-python"); harmless, useful for styling.
    "code": {"class"},
    "div": {"class"},
}  # fmt: skip
ALLOWED_URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
# Tags removed together with their content, not just unwrapped.
CLEAN_CONTENT_TAGS = frozenset({"script", "style", "iframe", "object", "embed", "noscript"})

# No nl2br: hard-wrapped Markdown (as editors and imports write it) must reflow as paragraphs.
_EXTENSIONS = ["tables", "fenced_code", "sane_lists", "toc"]
_EXTENSION_CONFIGS = {"toc": {"permalink": False, "toc_depth": "2-4"}}


def sanitize_html(html: str) -> str:
    """Keep only allowlisted tags, attributes and URL schemes."""
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        clean_content_tags=set(CLEAN_CONTENT_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(ALLOWED_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


# Python-Markdown recurses per nesting level and rescans for a closing bracket from every
# opening one: a 300-deep list overflowed the stack (a 500 on every page showing it) and 8,000
# `[` took 16 s. Bodies are bounded before rendering: nesting beyond these depths is
# flattened, and a block with more brackets than any real paragraph has them escaped.
MAX_INDENT_COLUMNS = 32  # eight list levels
MAX_QUOTE_DEPTH = 8  # quotes and list markers opening one line
MAX_BRACKETS_PER_BLOCK = 64
_LEADING = re.compile(r"^[ \t]+", re.MULTILINE)
# Container markers opening a line: quotes and list markers ("> - > 1. x" nests four deep).
_CONTAINER = r"[ \t]*(?:>|[-*+](?=[ \t])|\d{1,9}[.)](?=[ \t]))"
_CONTAINERS = re.compile(
    rf"^((?:{_CONTAINER}){{{MAX_QUOTE_DEPTH}}})(?:{_CONTAINER})+", re.MULTILINE
)
_BLOCKS = re.compile(r"\n[ \t]*\n")
_BRACKET = re.compile(r"(?<!\\)([\[\]])")


def _clamp_indent(match: re.Match) -> str:
    width = len(match.group(0).expandtabs(4))
    return " " * min(width, MAX_INDENT_COLUMNS)


def _defuse_block(block: str) -> str:
    if block.count("[") > MAX_BRACKETS_PER_BLOCK:
        return _BRACKET.sub(r"\\\1", block)
    return block


def bound_markdown(text: str) -> str:
    """The text with nesting and pathological runs bounded (renders in linear time)."""
    text = _LEADING.sub(_clamp_indent, text or "")
    text = _CONTAINERS.sub(r"\1", text)
    separators = _BLOCKS.findall(text)
    blocks = [_defuse_block(b) for b in _BLOCKS.split(text)]
    out = [blocks[0]]
    for sep, block in zip(separators, blocks[1:], strict=True):
        out.extend((sep, block))
    return "".join(out)


def render_markdown(text: str) -> str:
    """Render an article's Markdown body to safe HTML."""
    md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
    return sanitize_html(md.convert(bound_markdown(text)))
