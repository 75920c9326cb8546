"""Insights' settings as one typed object (read from django.conf.settings on each call, so
tests that override settings see their values); the defaults live in kb_platform/settings.py."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class InsightsConf:
    window_days: int
    cluster_threshold: float
    min_cluster_size: int
    max_questions: int
    recency_half_life_days: float
    reopen_growth_factor: float
    min_negative_answers: int
    merge_threshold: float
    merge_min_lexical: float
    draft_min_support: float
    draft_max_tokens: int


def insights_conf() -> InsightsConf:
    """The current insights settings."""
    return InsightsConf(
        window_days=settings.INSIGHTS_WINDOW_DAYS,
        cluster_threshold=settings.INSIGHTS_CLUSTER_THRESHOLD,
        min_cluster_size=settings.INSIGHTS_MIN_CLUSTER_SIZE,
        max_questions=settings.INSIGHTS_MAX_QUESTIONS,
        recency_half_life_days=settings.INSIGHTS_RECENCY_HALF_LIFE_DAYS,
        reopen_growth_factor=settings.INSIGHTS_REOPEN_GROWTH_FACTOR,
        min_negative_answers=settings.INSIGHTS_MIN_NEGATIVE_ANSWERS,
        merge_threshold=settings.INSIGHTS_MERGE_THRESHOLD,
        merge_min_lexical=settings.INSIGHTS_MERGE_MIN_LEXICAL,
        draft_min_support=settings.INSIGHTS_DRAFT_MIN_SUPPORT,
        draft_max_tokens=settings.INSIGHTS_DRAFT_MAX_TOKENS,
    )
