"""manage.py demo_banner --url URL: the last thing `make demo` prints once it serves."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from knowledge.management.commands.load_demo import DEMO_USERS

FACES = [
    ("Customer self-service portal", "/"),
    ("Agent assist", "/agent/"),
    ("Knowledge editor", "/editor/"),
    ("Insights", "/insights/"),
    ("REST API docs", "/api/docs/"),
    ("Django admin", "/admin/"),
]


class Command(BaseCommand):
    help = "Print the demo's URLs and logins."

    def add_arguments(self, parser):
        parser.add_argument("--url", default="http://127.0.0.1:8000")

    def handle(self, *args, **opts) -> None:
        base = opts["url"].rstrip("/")
        width = max(len(name) for name, _ in FACES)
        lines = [f"KB Platform demo is ready at {base}/", ""]
        lines += [f"  {name.ljust(width)}  {base}{path}" for name, path in FACES]
        lines += ["", "  Sign in at /accounts/login/ as:"]
        lines += [f"    {user:<9} {password:<20} {what}" for user, password, _, what in DEMO_USERS]
        lines += ["", "  Ctrl-C stops the server."]
        bar = "=" * max(len(line) for line in lines)
        self.stdout.write("\n".join([bar, *lines, bar]))
