"""Who may see something: the one name for the security-critical visibility decision.

An article's and a chunk's `visibility`, a search's or an answer's `audience` and an
interaction's `audience` all take these values. Plain module (no models), so retrieval's
ORM-free modules can use it.
"""

from __future__ import annotations

from django.db import models


class Audience(models.TextChoices):
    PUBLIC = "public", "Public (customers)"
    INTERNAL = "internal", "Internal (agents only)"


AUDIENCES: tuple[str, ...] = tuple(Audience.values)
