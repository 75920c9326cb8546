"""Typed settings of the support app, read from django.conf.settings once per call site."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.conf import settings

from support.triage import PRIORITY_NAMES


@dataclass(frozen=True)
class SlaTargets:
    """First-response and resolution targets per priority (KB_SLA_*_MINUTES)."""

    first_response_minutes: dict[str, int]
    resolution_minutes: dict[str, int]

    def first_response(self, priority: int) -> dt.timedelta:
        return dt.timedelta(minutes=self.first_response_minutes[PRIORITY_NAMES[priority]])

    def resolution(self, priority: int) -> dt.timedelta:
        return dt.timedelta(minutes=self.resolution_minutes[PRIORITY_NAMES[priority]])


def sla_targets() -> SlaTargets:
    return SlaTargets(
        first_response_minutes=dict(settings.KB_SLA_FIRST_RESPONSE_MINUTES),
        resolution_minutes=dict(settings.KB_SLA_RESOLUTION_MINUTES),
    )
