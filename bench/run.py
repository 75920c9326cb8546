"""`make bench`: run every bench/bench_*.py module and write its JSON under bench/results/.

Each module exposes `run(args: argparse.Namespace) -> dict`. Run a subset with
`make bench BENCH_ARGS="--only retrieval_quality"`; `--quick` shrinks sizes for a smoke run.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"


def _machine() -> dict:
    info = {
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
    }
    try:
        import torch

        info["cuda"] = torch.cuda.is_available()
        if info["cuda"]:
            info["gpu"] = torch.cuda.get_device_name(0)
    except Exception:  # torch missing is fine for some benches
        pass
    return info


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", action="append", default=[], help="module name without bench_")
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    parser.add_argument("--eval-dir", default=str(BENCH_DIR.parent.parent / "shared" / "eval"))
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "kb_platform.settings")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sys.path.insert(0, str(BENCH_DIR.parent))
    import django

    django.setup()

    names = sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))
    if args.only:
        names = [n for n in names if n.removeprefix("bench_") in args.only or n in args.only]
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    failures = 0
    for name in names:
        print(f"== {name}", flush=True)
        started = time.perf_counter()
        try:
            module = importlib.import_module(f"bench.{name}")
            result = module.run(args)
        except Exception:
            failures += 1
            traceback.print_exc()
            continue
        payload = {
            "benchmark": name.removeprefix("bench_"),
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "seconds": round(time.perf_counter() - started, 2),
            "machine": _machine(),
            "quick": args.quick,
            "results": result,
        }
        # A module may name its file after its configuration (e.g. load_gthread.json).
        namer = getattr(module, "result_name", None)
        result_name = namer() if namer else name.removeprefix("bench_")
        out = RESULTS_DIR / f"{result_name}.json"
        out.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
        print(f"   -> {out.relative_to(BENCH_DIR.parent)}", flush=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
