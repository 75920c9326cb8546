"""The triage classifier in use: trained from shipped examples, the taxonomy and corrections.

Training data: bench/data/triage_messages.jsonl (the team's labelled messages), every enabled
TriageIntent's examples (editors extend the taxonomy in the admin) and agents'
TriageCorrections (each counted CORRECTION_WEIGHT times, so one correction outweighs the
seed examples it contradicts). Trained on first use (about a second) and again when that data
changes (checked at most every RECHECK_SECONDS per process, at once after a correction or a
taxonomy edit in this process).
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
import time
from pathlib import Path

from django.conf import settings

from support import triage

logger = logging.getLogger(__name__)

SEED_PATH = Path(settings.BASE_DIR) / "bench" / "data" / "triage_messages.jsonl"
RECHECK_SECONDS = 30.0
CORRECTION_WEIGHT = 3


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple | None = None
        self.checked_at = 0.0
        self.trained = False
        self.classifier: triage.IntentClassifier | None = None
        self.intents: dict[str, tuple[str, int]] = dict(triage.DEFAULT_INTENTS)


_store = _Store()
_seed_cache: list[dict] | None = None


def seed_rows() -> list[dict]:
    """The shipped labelled messages (empty, with a warning, when the file is missing)."""
    global _seed_cache
    if _seed_cache is None:
        if not SEED_PATH.exists():
            logger.warning("triage seed examples %s missing: taxonomy examples only", SEED_PATH)
            _seed_cache = []
        else:
            lines = SEED_PATH.read_text(encoding="utf-8").splitlines()
            _seed_cache = [json.loads(line) for line in lines if line.strip()]
    return _seed_cache


def _stamp() -> tuple:
    """Changes whenever the training data does: a digest of the (small) taxonomy's rows, so
    a bulk update that leaves updated_at alone counts too, and the corrections' count/last id."""
    from django.db.models import Count, Max

    from support.models import TriageCorrection, TriageIntent

    rows = TriageIntent.objects.order_by("id").values_list(
        "id", "name", "label", "priority", "enabled", "examples"
    )
    digest = hashlib.sha256(repr(list(rows)).encode()).hexdigest()
    corrections = TriageCorrection.objects.aggregate(n=Count("id"), last=Max("id"))
    return (digest, corrections["n"], corrections["last"])


def _train() -> None:
    from support.models import TriageCorrection, TriageIntent

    rows = list(seed_rows())
    intents = dict(triage.DEFAULT_INTENTS)
    for taxonomy_row in TriageIntent.objects.all():
        if not taxonomy_row.enabled:
            intents.pop(taxonomy_row.name, None)
            continue
        intents[taxonomy_row.name] = (taxonomy_row.label, taxonomy_row.priority)
        rows += [
            {"text": line.strip(), "intent": taxonomy_row.name}
            for line in taxonomy_row.examples.splitlines()
            if line.strip()
        ]
    # The latest correction of a message is the one that counts.
    latest: dict[int, tuple[str, str]] = {}
    for correction in TriageCorrection.objects.select_related("message").order_by("id"):
        latest[correction.message_id] = (correction.message.body, correction.intent)
    for body, intent in latest.values():
        rows += [{"text": body, "intent": intent}] * CORRECTION_WEIGHT
    # Safety never comes from the classifier alone (generation.safety's rules decide), but
    # its examples stay: they keep hazard wording out of the other intents.
    rows = [r for r in rows if r["intent"] in intents or r["intent"] == "safety"]
    _store.intents = intents
    _store.classifier = triage.train_default(rows) if len({r["intent"] for r in rows}) > 1 else None


def _refresh() -> None:
    now = time.monotonic()
    if _store.trained and now - _store.checked_at < RECHECK_SECONDS:
        return
    with _store.lock:
        if _store.trained and now - _store.checked_at < RECHECK_SECONDS:
            return
        try:
            stamp = _stamp()
            if stamp != _store.stamp or not _store.trained:
                _train()
                _store.stamp = stamp
        except Exception as exc:  # the tables missing (before migrate): seed examples only
            if not _store.trained:
                logger.warning("triage taxonomy unreadable (%s): seed examples only", exc)
                rows = seed_rows()
                _store.classifier = triage.train_default(rows) if rows else None
        _store.trained = True
        _store.checked_at = now


def invalidate() -> None:
    """Check the training data again on the next message (after a correction or an edit)."""
    _store.checked_at = 0.0


def triage_text(text: str, *, previous_contacts: int = 0) -> triage.Triage:
    """Triage one customer message with the current classifier and taxonomy."""
    _refresh()
    return triage.triage(
        text,
        classifier=_store.classifier,
        intents=_store.intents,
        previous_contacts=previous_contacts,
    )


def intents() -> dict[str, tuple[str, int]]:
    """The intents agents can choose when correcting: name -> (label, base priority)."""
    _refresh()
    return dict(_store.intents)
