"""Read one e-mail (RFC 822) on stdin and add it to its conversation: the MTA's pipe target."""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError

from support.inbound import InboundRejected, inbound_email_receive


class Command(BaseCommand):
    help = "Add an e-mailed customer reply (read from stdin) to its conversation."

    def handle(self, *args, **options) -> None:
        raw = sys.stdin.buffer.read()
        try:
            message = inbound_email_receive(raw=raw)
        except InboundRejected as exc:
            raise CommandError(f"reply not accepted: {exc}") from exc
        self.stdout.write(
            f"added to request #{message.conversation_id} "
            f"(now {message.conversation.get_status_display().lower()})"
        )
