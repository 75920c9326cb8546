"""Drafts for suggestions: an LLM draft when one is configured and the evidence supports it,
the extractive draft (built only from the evidence) otherwise."""

from __future__ import annotations

import logging
from typing import Any

from insights import drafting
from insights.conf import insights_conf
from insights.models import DraftSource, Suggestion
from knowledge.models import Article

logger = logging.getLogger(__name__)


def article_text(article: Article, *, working: bool = False) -> tuple[str, str]:
    """Published text (what customers saw), or with working=True the latest revision (what
    editors are working on, which an accepted edit must build on)."""
    if working:
        revision = article.latest_revision or article.published_revision
    else:
        revision = article.published_revision or article.latest_revision
    if revision is None:
        return article.title, ""
    return revision.title, revision.body


def _evidence_texts(evidence: dict) -> list[str]:
    texts = [q["text"] for q in evidence.get("questions", [])]
    texts += [r["text"] for r in evidence.get("agent_replies", [])]
    texts += [c["text"] for c in evidence.get("feedback_comments", [])]
    texts += [f["text"] for f in evidence.get("flags", []) if f.get("text")]
    return texts


def _apply_draft(
    suggestion: Suggestion,
    *,
    task: str,
    evidence: list[str],
    extractive: tuple[str, str],
) -> None:
    """LLM draft when configured and supported by the evidence; extractive otherwise."""
    min_support = insights_conf().draft_min_support
    check: dict[str, Any] = {}
    from generation.backends import llm_configured

    if llm_configured():
        llm = _llm_draft(task=task, evidence=evidence)
        if "error" in llm:
            check["llm_error"] = llm["error"]
        else:
            # The body carries the claims; the title is a label and is not checked.
            report = drafting.check_support(llm["body"], evidence, min_support=min_support)
            # Reject when more than one sentence in five is not backed by the evidence; keep
            # but flag the unsupported sentences otherwise, so the editor checks them.
            if report.ratio < 0.8:
                check["llm_rejected"] = True
                check["llm_unsupported"] = report.unsupported
                check["llm_title"] = llm["title"]
            else:
                suggestion.draft_title = llm["title"][:300]
                suggestion.draft_body = llm["body"]
                suggestion.draft_source = DraftSource.LLM
                check.update(report.to_dict())
                check["llm_rationale"] = llm.get("rationale", "")
                check["llm_sources"] = llm.get("sources", [])
                suggestion.draft_check = check
                return
    title, body = extractive
    report = drafting.check_support(
        body, evidence, min_support=min_support, headings=drafting.EXTRACTIVE_HEADINGS
    )
    check.update(report.to_dict())
    suggestion.draft_title = title[:300]
    suggestion.draft_body = body
    suggestion.draft_source = DraftSource.EXTRACTIVE
    suggestion.draft_check = check


def _llm_draft(*, task: str, evidence: list[str]) -> dict[str, Any]:
    from generation.backends import LLMError, get_llm_backend

    messages = drafting.draft_messages(task=task, evidence=evidence[:40])
    try:
        result = get_llm_backend().complete_json(
            messages,
            drafting.DRAFT_SCHEMA,
            max_tokens=insights_conf().draft_max_tokens,
        )
    except LLMError as exc:
        logger.warning("LLM draft failed, using the extractive draft: %s", exc)
        return {"error": str(exc)[:300]}
    title = str(result.get("title") or "").strip()
    body = str(result.get("body") or "").strip()
    if not title or not body:
        return {"error": "the LLM returned an empty title or body"}
    sources = [s for s in result.get("sources") or [] if isinstance(s, int)]
    return {
        "title": title,
        "body": body,
        "rationale": str(result.get("rationale") or "")[:1000],
        "sources": sources,
    }


def _questions_and_replies(evidence: dict) -> tuple[list[str], list[str]]:
    """The customers' questions and the agents' replies recorded in a suggestion's evidence."""
    questions = [q["text"] for q in evidence.get("questions", [])]
    replies = [r["text"] for r in evidence.get("agent_replies", [])]
    return questions, replies


def draft_new_article(suggestion: Suggestion) -> None:
    evidence = suggestion.evidence
    questions, replies = _questions_and_replies(evidence)
    _apply_draft(
        suggestion,
        task=(
            "Write a new help-center article that answers these customer questions, using "
            "the agents' replies as the source of the answer."
        ),
        evidence=_evidence_texts(evidence),
        extractive=drafting.extractive_new_article(questions=questions, replies=replies),
    )


def draft_update(suggestion: Suggestion, article: Article) -> None:
    title, body = article_text(article, working=True)
    # Accepting checks the article has not changed since this draft was made from it.
    suggestion.evidence["base_revision_id"] = article.latest_revision_id
    evidence = suggestion.evidence
    questions, replies = _questions_and_replies(evidence)
    _apply_draft(
        suggestion,
        task=(
            "Propose an edited version of the article (evidence [1]) that fixes what customers "
            "and agents reported; keep everything in it that is still correct."
        ),
        evidence=[f"{title}\n\n{body}", *_evidence_texts(evidence)],
        extractive=drafting.extractive_update(
            title=title, body=body, questions=questions, replies=replies
        ),
    )


def draft_merge(suggestion: Suggestion, a: Article, b: Article) -> None:
    title_a, body_a = article_text(a, working=True)
    suggestion.evidence["base_revision_id"] = a.latest_revision_id
    title_b, body_b = article_text(b)
    _apply_draft(
        suggestion,
        task="Merge these two overlapping articles into one, keeping every distinct fact.",
        evidence=[f"{title_a}\n\n{body_a}", f"{title_b}\n\n{body_b}"],
        extractive=drafting.extractive_merge(title=title_a, body=body_a, other_body=body_b),
    )
