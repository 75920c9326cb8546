"""Admin-editable data of generation: the safety rules and the fixed safety responses.

The classifier itself (generation/safety.py) is a plain module; generation/safety_store.py
loads these rows into it, caches them and reloads them when an admin changes one.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.db import models

from generation import safety


class SafetyRule(models.Model):
    class Kind(models.TextChoices):
        HAZARD = safety.HAZARD, "Hazard: hand off when it matches"
        BENIGN = safety.BENIGN, "Benign context: makes weaker hazards of its category ordinary"
        MASK = safety.MASK, "Look-alike: blanked out before the hazard rules run"

    name = models.SlugField(max_length=80, unique=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HAZARD)
    category = models.CharField(
        max_length=32, choices=[(k, v) for k, v in safety.CATEGORIES.items()], db_index=True
    )
    language = models.CharField(
        max_length=8,
        blank=True,
        help_text="Language the pattern is written in (empty: any); the reply language "
        "when detection is unsure.",
    )
    pattern = models.TextField(
        help_text="Python regular expression, matched against the question case-folded, with "
        "Latin accents removed (write 'fumee', not 'fumée') and spaces collapsed."
    )
    confidence = models.FloatField(
        default=0.9,
        help_text="Hazard: how sure a match is (the strongest match decides). Benign: hazard "
        "matches of its category below this confidence are suppressed.",
    )
    enabled = models.BooleanField(default=True, db_index=True)
    description = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind", "category", "name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        try:
            re.compile(self.pattern, re.S)
        except re.error as exc:
            raise ValidationError({"pattern": f"Not a valid regular expression: {exc}"}) from exc
        if not 0.0 <= self.confidence <= 1.0:
            raise ValidationError({"confidence": "Between 0 and 1."})

    def as_rule(self) -> safety.SafetyRule:
        return safety.SafetyRule(
            name=self.name,
            category=self.category,
            pattern=self.pattern,
            kind=self.kind,
            confidence=self.confidence,
            language=self.language,
            description=self.description,
        )


class SafetyResponse(models.Model):
    """The fixed text a hazard question gets, one per language."""

    language = models.CharField(max_length=8, unique=True)
    text = models.TextField(
        help_text="Plain text; lines starting with '- ' are shown as a list. Say: stop using the "
        "device, unplug it if it is safe to, keep away from smoke or fire, call emergency "
        "services when there is danger, support will contact you."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["language"]

    def __str__(self) -> str:
        return self.language
