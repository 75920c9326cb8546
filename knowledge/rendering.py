"""Markdown to sanitized HTML for article bodies (editor preview, portal, agent assist).

Markdown passes raw HTML through, so the rendered HTML is untrusted: nh3 (ammonia) keeps
only an allowlist of tags, attributes and URL schemes. Scripts, event handlers, iframes,
inline styles and javascript:/data: URLs never survive.
"""

from __future__ import annotations

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


def render_markdown(text: str) -> str:
    """Render an article's Markdown body to safe HTML."""
    md = markdown.Markdown(extensions=_EXTENSIONS, extension_configs=_EXTENSION_CONFIGS)
    return sanitize_html(md.convert(text or ""))
