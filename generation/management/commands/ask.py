"""`manage.py ask "question" [--audience internal] [--stream]`: answer from the KB in a terminal."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from generation.services import answer_from_dict, answer_question, answer_question_stream
from generation.types import Answer


class Command(BaseCommand):
    help = "Answer a question from the published KB, with citations and grounding."

    def add_arguments(self, parser) -> None:
        parser.add_argument("question", help="the question, in quotes")
        parser.add_argument("--audience", choices=("public", "internal"), default="public")
        parser.add_argument("--stream", action="store_true", help="print tokens as they come")
        parser.add_argument("--json", action="store_true", help="print the whole Answer as JSON")

    def handle(self, *args, **options) -> None:
        question, audience = options["question"], options["audience"]
        try:
            if options["stream"]:
                answer = self._stream(question, audience)
            else:
                answer = answer_question(question, audience=audience)
                if not options["json"]:
                    self.stdout.write(answer.text)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if options["json"]:
            self.stdout.write(json.dumps(answer.to_dict(), indent=2))
            return
        self._summary(answer)

    def _stream(self, question: str, audience: str) -> Answer:
        answer = None
        for event in answer_question_stream(question, audience=audience):
            if event.type == "token":
                if event.data.get("reset"):
                    self.stdout.write("\n[the LLM stream failed; restarting extractively]\n")
                self.stdout.write(event.data["text"], ending="")
                self.stdout.flush()
            elif event.type == "done":
                answer = answer_from_dict(event.data["answer"])
        self.stdout.write("")
        assert answer is not None
        return answer

    def _summary(self, answer: Answer) -> None:
        self.stdout.write("")
        for c in answer.citations:
            mark = "supported" if c.supported else "NOT supported"
            where = f" > {c.heading_path}" if c.heading_path else ""
            self.stdout.write(
                f"  [{c.number}] {c.title}{where} (/{c.slug}, article {c.article_id}) "
                f"{mark} {c.support_score:.2f}"
            )
        for a in answer.nearest_articles:
            self.stdout.write(f"  nearby: {a['title']} (/{a['slug']})")
        reason = f", fallback: {answer.fallback_reason}" if answer.fallback_reason else ""
        abstained = f", abstained: {answer.abstain_reason}" if answer.abstained else ""
        self.stdout.write(
            self.style.NOTICE(
                f"backend {answer.backend} ({answer.model}){reason}{abstained}; "
                f"grounding {answer.grounding_score:.2f}; confidence {answer.confidence:.2f}; "
                f"first token {answer.first_token_ms:.0f} ms, total {answer.latency_ms:.0f} ms"
            )
        )
