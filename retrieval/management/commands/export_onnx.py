"""`manage.py export_onnx [--model NAME] [--force]`: export + int8-quantize the embedding model."""

from __future__ import annotations

import time

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError, CommandParser


class Command(BaseCommand):
    help = (
        "Export the sentence-transformers model to ONNX (fp32 + int8) under VAR_DIR/onnx/<hash>/, "
        "for EMBEDDING_BACKEND=onnx-int8. Without --force an existing export is kept."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--model",
            default=None,
            help="packaged model name or local model folder (default: settings.EMBEDDING_MODEL)",
        )
        parser.add_argument("--force", action="store_true", help="export again even if cached")

    def handle(self, *args, **options) -> None:
        from retrieval.onnx_embedder import (
            FP32_FILE,
            INT8_FILE,
            export_model,
            model_hash,
            resolve_model_dir,
        )

        model = options["model"] or settings.EMBEDDING_MODEL
        started = time.perf_counter()
        try:
            folder = export_model(model, force=options["force"])
            digest = model_hash(resolve_model_dir(model))
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        seconds = time.perf_counter() - started
        for name in (FP32_FILE, INT8_FILE):
            size_mb = (folder / name).stat().st_size / 1e6
            self.stdout.write(f"{folder / name}  ({size_mb:.1f} MB)")
        self.stdout.write(
            self.style.SUCCESS(
                f"model_id onnx-int8:{digest[:12]} (fp32: onnx-fp32:{digest[:12]}) "
                f"ready in {seconds:.1f} s"
            )
        )
