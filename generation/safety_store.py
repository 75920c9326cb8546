"""The safety rules and responses in use: from the database, cached per process, reloaded on change.

Each process keeps the compiled rule set and checks at most every RECHECK_SECONDS whether the
tables changed (a digest of their rows: two small queries, ~1 ms), so an admin's
edit applies everywhere within seconds without a cache server; in the editing process a
save/delete signal makes it apply at once. While the tables cannot be read (before `migrate`)
or hold no rule at all, the built-in defaults are used: the handoff must never switch off
because the rules could not be loaded.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time

from django.db.models.signals import post_delete, post_save

from generation import safety

logger = logging.getLogger(__name__)

RECHECK_SECONDS = 2.0


class _Store:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.stamp: tuple | None = None
        self.checked_at = 0.0
        self.ruleset: safety.RuleSet | None = None
        self.responses: dict[str, str] = {}


_store = _Store()


def _stamp() -> tuple:
    """(rule count, digest of every rule and response): changes with any edit, even .update()."""
    from generation.models import SafetyResponse, SafetyRule

    digest = hashlib.sha256()
    n_rules = 0
    for row in SafetyRule.objects.order_by("pk").values_list(
        "pk", "kind", "category", "language", "pattern", "confidence", "enabled"
    ):
        digest.update(repr(row).encode())
        n_rules += 1
    for response in SafetyResponse.objects.order_by("pk").values_list("pk", "language", "text"):
        digest.update(repr(response).encode())
    return (n_rules, digest.hexdigest()[:16])


def _load(stamp: tuple) -> None:
    from generation.models import SafetyResponse, SafetyRule

    rows = [r.as_rule() for r in SafetyRule.objects.filter(enabled=True)]
    version = stamp[1][:12]
    if stamp[0] == 0:
        logger.warning("no safety rules in the database: using the built-in defaults")
        ruleset = safety.RuleSet.build(safety.DEFAULT_RULES, version="defaults")
    else:
        ruleset = safety.RuleSet.build(rows, version=version)
        for error in ruleset.errors:
            logger.error("safety rule skipped (does not compile): %s", error)
    _store.ruleset = ruleset
    _store.responses = dict(SafetyResponse.objects.values_list("language", "text"))
    _store.stamp = stamp


def _refresh() -> None:
    now = time.monotonic()
    if _store.ruleset is not None and now - _store.checked_at < RECHECK_SECONDS:
        return
    with _store.lock:
        if _store.ruleset is not None and now - _store.checked_at < RECHECK_SECONDS:
            return
        try:
            stamp = _stamp()
            if stamp != _store.stamp or _store.ruleset is None:
                _load(stamp)
        except Exception as exc:
            # No tables yet, or the database is down: keep what we have, else the defaults.
            if _store.ruleset is None:
                logger.warning("safety rules unreadable (%s): using the defaults", exc)
                _store.ruleset = safety.default_ruleset()
        _store.checked_at = now


def current_ruleset() -> safety.RuleSet:
    """The rule set in use (reloaded when the tables changed)."""
    _refresh()
    assert _store.ruleset is not None
    return _store.ruleset


def response_for(language: str) -> str | None:
    """The admin's safety response for this language, or None (the caller falls back)."""
    _refresh()
    return _store.responses.get(language) or _store.responses.get("en")


def invalidate(**_kwargs) -> None:
    """Make the next assessment reload (connected to the models' save and delete signals)."""
    _store.checked_at = 0.0


def install() -> None:
    """Point generation.safety at the database (called from GenerationConfig.ready)."""
    from generation.models import SafetyResponse, SafetyRule

    for model in (SafetyRule, SafetyResponse):
        post_save.connect(invalidate, sender=model, dispatch_uid=f"safety-{model.__name__}-save")
        post_delete.connect(invalidate, sender=model, dispatch_uid=f"safety-{model.__name__}-del")
    safety.set_providers(ruleset=current_ruleset, response=response_for)


def seed_defaults(apps=None, *, overwrite: bool = False) -> int:
    """Write the built-in rules and responses (data migration; `overwrite` resets edited ones)."""
    from django.apps import apps as global_apps

    registry = apps or global_apps
    rule_model = registry.get_model("generation", "SafetyRule")
    response_model = registry.get_model("generation", "SafetyResponse")
    written = 0
    for rule in safety.DEFAULT_RULES:
        fields = {
            "kind": rule.kind,
            "category": rule.category,
            "language": rule.language,
            "pattern": rule.pattern,
            "confidence": rule.confidence,
            "description": rule.description,
        }
        if overwrite:
            rule_model.objects.update_or_create(name=rule.name, defaults=fields)
            written += 1
        else:
            _, created = rule_model.objects.get_or_create(name=rule.name, defaults=fields)
            written += created
    for language, text in safety.DEFAULT_RESPONSES.items():
        if overwrite:
            response_model.objects.update_or_create(language=language, defaults={"text": text})
        else:
            response_model.objects.get_or_create(language=language, defaults={"text": text})
    return written
