"""`manage.py llm_health`: is the configured LLM (vLLM) reachable and serving LLM_MODEL?"""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from generation.services import llm_health


class Command(BaseCommand):
    help = "Check the LLM server (GET /v1/models); exit status 1 when it is not usable."

    def handle(self, *args, **options) -> None:
        health = llm_health()
        self.stdout.write(json.dumps(health, indent=2))
        if not health["ok"]:
            raise CommandError(f"LLM not usable: {health.get('error')}")
