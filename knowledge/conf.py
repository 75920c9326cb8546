"""Knowledge's settings as one typed object, so call sites never repeat names or defaults.

Read from `django.conf.settings` (which alone reads the environment) on each call: cheap,
and tests that override settings see their values; the defaults are in kb_platform/settings.py.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class KnowledgeConf:
    # Longest article body accepted (editor, API, imports), in characters.
    max_article_body_chars: int
    # A revision's author cannot approve and publish it (KB_REVIEW_FOUR_EYES).
    review_four_eyes: bool
    # The languages articles may be written and translated in, the site language first
    # (LANGUAGES), with the name each is shown under.
    languages: tuple[str, ...]
    language_names: dict[str, str]


def knowledge_conf() -> KnowledgeConf:
    """The current knowledge settings."""
    return KnowledgeConf(
        max_article_body_chars=settings.KB_MAX_ARTICLE_BODY_CHARS,
        review_four_eyes=settings.KB_REVIEW_FOUR_EYES,
        languages=tuple(settings.SEARCH_LANGUAGES),
        language_names=dict(settings.LANGUAGES),
    )
