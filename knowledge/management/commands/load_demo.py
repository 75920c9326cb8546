"""manage.py load_demo: demo users for every role, a knowledge base, and the search index.

Idempotent: users are reset to the documented passwords, articles are re-imported by id
(unchanged ones stay as they are), and the index is rebuilt at the end.
"""

from __future__ import annotations

from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command, get_commands
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from knowledge import announcements, import_services, importers, roles
from knowledge.audience import Audience
from knowledge.conf import knowledge_conf
from knowledge.demo_data import SAMPLE_KB_DIR, assign_categories
from knowledge.management.commands.import_kb import print_summary

DEFAULT_CORPUS = "../shared/eval/emanual-samsung-tv/corpus.jsonl"

# username, password, role group (None: a plain customer account), what the role can do
DEMO_USERS = [
    ("admin", "admin-demo-pass", roles.ADMIN, "everything, plus /admin/"),
    ("editor", "editor-demo-pass", roles.EDITOR, "write and submit articles"),
    ("reviewer", "reviewer-demo-pass", roles.REVIEWER, "review, publish and archive"),
    ("agent", "agent-demo-pass", roles.AGENT, "agent assist, internal articles"),
    ("customer", "customer-demo-pass", None, "the portal, public articles only"),
]


class Command(BaseCommand):
    help = "Create demo users for every role, import a knowledge base and build the index."

    def add_arguments(self, parser):
        parser.add_argument(
            "--corpus",
            default=DEFAULT_CORPUS,
            help="JSONL corpus ({id, title, text}); the bundled sample KB is used if missing",
        )
        parser.add_argument("--no-index", action="store_true", help="skip rebuild_index")
        parser.add_argument("--no-progress", action="store_true")
        parser.add_argument(
            "--no-logins",
            action="store_true",
            help="don't print the logins (`make demo` prints them in its final banner)",
        )

    def handle(self, *args, **opts):
        admin = self._users()
        corpus = Path(opts["corpus"]) if opts["corpus"] else None
        max_chars = knowledge_conf().max_article_body_chars
        sample = importers.parse_path(SAMPLE_KB_DIR, fmt="markdown", max_body_chars=max_chars)
        # No index catch-up per import: the one rebuild below (or none with --no-index).
        with announcements.bulk_changes(announce=False):
            if corpus and corpus.is_file():
                self.stdout.write(f"Importing the corpus {corpus} …")
                parsed = importers.parse_path(corpus, fmt="jsonl", max_body_chars=max_chars)
                assign_categories(parsed.records)
                self._import(parsed, admin, str(corpus), opts)
                # Agents need internal procedures beside the manual: add the sample's internal ones.
                internal = importers.ParseResult(
                    records=[r for r in sample.records if r.visibility == Audience.INTERNAL]
                )
                self.stdout.write("Adding the internal agent articles from the bundled sample …")
                self._import(internal, admin, "bundled sample (internal articles)", opts)
            else:
                if corpus:
                    self.stdout.write(
                        self.style.WARNING(f"{corpus} not found: loading the bundled sample KB.")
                    )
                self._import(sample, admin, "bundled sample KB", opts)
        if not opts["no_index"]:
            self._rebuild_index()
        if not opts["no_logins"]:
            self._print_logins()

    def _users(self):
        User = get_user_model()
        with transaction.atomic():
            groups = {name: Group.objects.get_or_create(name=name)[0] for name in roles.ROLE_GROUPS}
            review_perm = Permission.objects.filter(
                codename="review_article", content_type__app_label="knowledge"
            ).first()
            if review_perm:
                groups[roles.REVIEWER].permissions.add(review_perm)
            admin = None
            for username, password, role, _ in DEMO_USERS:
                user, _ = User.objects.get_or_create(
                    username=username, defaults={"email": f"{username}@example.com"}
                )
                user.set_password(password)
                user.is_staff = role == roles.ADMIN
                user.is_superuser = role == roles.ADMIN
                user.save()
                user.groups.set([groups[role]] if role else [])
                if role == roles.ADMIN:
                    admin = user
        return admin

    def _import(self, parsed: importers.ParseResult, actor, source: str, opts) -> None:
        from tqdm import tqdm

        records = tqdm(
            parsed.records,
            desc="Importing",
            unit="article",
            # None: tqdm draws only on a terminal (no bars in CI or `make demo > log`).
            disable=True if opts["no_progress"] or not parsed.records else None,
            file=self.stderr._out,
        )
        summary = import_services.articles_import(
            records=records,
            actor=actor,
            publish=True,
            source_name=source,
            problems=[(p.source, p.reason) for p in parsed.problems],
        )
        print_summary(self, summary)

    def _rebuild_index(self) -> None:
        if "rebuild_index" not in get_commands():
            self.stdout.write(
                self.style.WARNING(
                    "No rebuild_index command is installed: search has no index yet. "
                    "Run `manage.py rebuild_index` once the retrieval app provides it."
                )
            )
            return
        self.stdout.write("Building the search index …")
        try:
            call_command("rebuild_index", stdout=self.stdout, stderr=self.stderr)
        except (CommandError, NotImplementedError, ImportError) as exc:
            self.stdout.write(
                self.style.WARNING(
                    f"Could not build the search index ({exc}). Articles are loaded; run "
                    "`manage.py rebuild_index` after fixing the problem."
                )
            )

    def _print_logins(self) -> None:
        rows = [("User", "Password", "Role", "Can")]
        rows += [(u, p, r or "customer", what) for u, p, r, what in DEMO_USERS]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        line = "+".join("-" * (w + 2) for w in widths)
        self.stdout.write("\nDemo logins (sign in at /accounts/login/):")
        self.stdout.write(f"+{line}+")
        for n, row in enumerate(rows):
            cells = " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row))
            self.stdout.write(f"| {cells} |")
            if n == 0:
                self.stdout.write(f"+{line}+")
        self.stdout.write(f"+{line}+")
        self.stdout.write(
            "\nWhere to go: customer portal /   agent assist /agent/   "
            "knowledge editor /editor/   API docs /api/docs/   Django admin /admin/"
        )
