"""How answers look to customers: escaped HTML with [k] links, source chips, public-only data.

Shared by the portal, the widget, the thread pages, the agent UI and the API (no view module
imports another view module).
"""

from __future__ import annotations

import logging
import re

import nh3
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from generation.types import Answer
from support import selectors
from support.models import Interaction

logger = logging.getLogger(__name__)

_CITE_RE = re.compile(r"\[(\d{1,3})\]")
_MD_MARKERS = re.compile(r"\*\*|__|`|(?<![\w*])\*(?=\S)|(?<=\S)\*(?![\w*])")
_STRONG_RE = re.compile(r"\*\*(\S(?:[^*\n]*?\S)?)\*\*")
_EM_RE = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*?\S)?)\*(?![\w*])")


def snippet_clean(html: str) -> SafeString:
    """Search snippets come as HTML with <mark>: keep only that."""
    # Chunks are Markdown source: drop emphasis/code markers so snippets read as prose.
    text = _MD_MARKERS.sub("", html or "")
    return mark_safe(nh3.clean(text, tags={"mark"}, attributes={}))


def answer_html(text: str, numbers: set[int]) -> SafeString:
    """Escape the answer and turn [k] markers into links to the k-th source."""
    escaped = str(escape(text or ""))

    def link(match: re.Match) -> str:
        k = int(match.group(1))
        if k in numbers:
            return f'<a class="cite" href="#source-{k}" aria-label="source {k}">[{k}]</a>'
        return ""

    html = _CITE_RE.sub(link, escaped)
    # Answers quote Markdown sources: show **bold** and *emphasis* as such, not as asterisks.
    html = _STRONG_RE.sub(r"<strong>\1</strong>", html)
    html = _EM_RE.sub(r"<em>\1</em>", html)
    paragraphs = [p.strip() for p in html.split("\n\n") if p.strip()]
    return mark_safe("".join(f"<p>{p.replace(chr(10), '<br>')}</p>" for p in paragraphs))


def group_sources(citations: list[dict]) -> list[dict]:
    """One chip per cited article, carrying every [k] that points into it (first-cited first)."""
    by_article: dict[int, dict] = {}
    for c in citations:
        entry = by_article.setdefault(
            c["article_id"],
            {
                "article_id": c["article_id"],
                "title": c.get("title", ""),
                "slug": c.get("slug", ""),
                "url": c.get("url") or f"/articles/{c.get('slug')}/",
                "numbers": [],
            },
        )
        entry["numbers"].append(c["number"])
    return list(by_article.values())


def public_article_ids(ids: set[int]) -> set[int]:
    return set(selectors.portal_articles().filter(pk__in=ids).values_list("pk", flat=True))


# How an answer was made (which backend and model, prompt version, why the LLM was skipped,
# token counts) is for staff and the interaction log, not for customers.
ANSWER_FIELDS_NOT_PUBLIC = (
    "backend", "model", "prompt_version", "fallback_reason", "prompt_tokens",
    "completion_tokens", "retrieval_confidence", "draft_text",
)  # fmt: skip


def answer_for_portal(answer: Answer) -> dict:
    """The answer as the portal shows it; citations to anything not public are dropped."""
    data = answer.to_dict()
    for name in ANSWER_FIELDS_NOT_PUBLIC:
        data.pop(name, None)
    cited = {c["article_id"] for c in data["citations"]}
    for n in data.get("nearest_articles") or []:
        n.setdefault("article_id", n.get("id"))  # generation names it "id"
    nearest = {n.get("article_id") for n in data.get("nearest_articles") or []}
    allowed = public_article_ids({i for i in cited | nearest if i})
    if cited - allowed:
        logger.error("portal answer cited non-public articles %s: dropped", cited - allowed)
    data["citations"] = [c for c in data["citations"] if c["article_id"] in allowed]
    data["nearest_articles"] = [
        n for n in data.get("nearest_articles") or [] if n.get("article_id") in allowed
    ]
    for c in data["citations"]:
        c["url"] = f"/articles/{c['slug']}/"
    for n in data["nearest_articles"]:
        n["url"] = f"/articles/{n.get('slug')}/"
    data["html"] = str(answer_html(data["text"], {c["number"] for c in data["citations"]}))
    data["sources"] = group_sources(data["citations"])
    return data


def interaction_context(interaction: Interaction, public: set[int] | None = None) -> dict:
    """What the answer templates show; `public` is the checked public article ids, if known."""
    if public is None:
        public = public_article_ids({c.get("article_id") for c in interaction.citations})
    citations = [
        {**c, "url": f"/articles/{c.get('slug')}/"}
        for c in interaction.citations
        if c.get("article_id") in public
    ]
    return {
        "interaction": interaction,
        "answer_html": answer_html(interaction.answer_text, {c["number"] for c in citations}),
        "citations": citations,
        "sources": group_sources(citations),
    }
