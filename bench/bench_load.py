"""Load: gunicorn (3 workers) with the demo KB, driven over loopback at 10/50/100 clients.

Portal search (GET /search/) and portal ask without JavaScript (POST /ask/, the whole answer
server-side, extractive answerer) are measured separately at each concurrency: throughput,
latency percentiles and errors. The server uses a throwaway SQLite copy (or the database in
BENCH_LOAD_DATABASE_URL, which must be a scratch database) loaded by `manage.py load_demo`,
with the real embedding model (torch), then the int8 ONNX export of the same model for
comparison (BENCH_LOAD_EMBEDDING=torch|onnx-int8|fake picks one).
The load generator runs on the same machine (one asyncio process): on 2 cores it competes
with the server for CPU, so these numbers are a floor.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
LEVELS = (10, 50, 100)
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "3"))
ASK_P95_TARGET_MS = 300.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(tmp: Path) -> dict:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=os.environ.get("BENCH_LOAD_DATABASE_URL") or f"sqlite:///{tmp / 'bench.db'}",
        KB_VAR_DIR=str(tmp / "var"),
        INDEX_DIR=str(tmp / "var" / "index"),
        EMBEDDING_BACKEND=os.environ.get("BENCH_LOAD_EMBEDDING", "torch"),
        LLM_BASE_URL="",
        RATE_LIMIT_ASK_PER_MINUTE="1000000",
        RATE_LIMIT_SEARCH_PER_MINUTE="1000000",
        DJANGO_DEBUG="false",
        LOG_LEVEL="WARNING",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        TOKENIZERS_PARALLELISM="false",
        # One torch thread per web worker: 3 workers on 2 cores must not oversubscribe.
        OMP_NUM_THREADS=os.environ.get("BENCH_LOAD_OMP_THREADS", "1"),
        MKL_NUM_THREADS=os.environ.get("BENCH_LOAD_OMP_THREADS", "1"),
    )
    env.pop("CELERY_BROKER_URL", None)
    env.pop("CACHE_URL", None)
    return env


def _prepare(env: dict, corpus: Path, log) -> float:
    started = time.perf_counter()
    manage = [sys.executable, str(REPO / "manage.py")]
    subprocess.run([*manage, "migrate", "--noinput", "-v", "0"], env=env, check=True, cwd=REPO)
    subprocess.run(
        [*manage, "load_demo", "--corpus", str(corpus), "--no-progress"],
        env=env,
        check=True,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return time.perf_counter() - started


PROFILE_SNIPPET = r"""
import json, sys, time
import django
django.setup()
from django.test import Client
from retrieval.embedding import get_embedder
from retrieval import services as retrieval
from generation import services as generation
queries = json.loads(sys.argv[1])
c = Client()
c.get("/ask/")
for q in queries[:5]:
    c.post("/ask/", {"q": q})
    c.get("/search/", {"q": q})
def ms(fn):
    t = time.perf_counter()
    for q in queries:
        fn(q)
    return round((time.perf_counter() - t) * 1000 / len(queries), 2)
emb = get_embedder()
out = {
    "query_embedding": ms(lambda q: emb.embed([q])),
    "retrieval_search_top8": ms(lambda q: retrieval.search(q, audience="public", top_k=8)),
    "retrieval_search_top50": ms(lambda q: retrieval.search(q, audience="public", top_k=50)),
    "answer_question": ms(lambda q: generation.answer_question(q, audience="public")),
    "portal_ask_request": ms(lambda q: c.post("/ask/", {"q": q})),
    "portal_search_request": ms(lambda q: c.get("/search/", {"q": q})),
}
print("PROFILE " + json.dumps(out))
"""


def _profile(env: dict, queries: list[str]) -> dict:
    """Single-threaded ms per request and per stage, in one process (no concurrency)."""
    result = subprocess.run(
        [sys.executable, "-c", PROFILE_SNIPPET, json.dumps(queries[5:65])],
        env={**env, "DJANGO_SETTINGS_MODULE": "kb_platform.settings", "PYTHONPATH": str(REPO)},
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in result.stdout.splitlines():
        if line.startswith("PROFILE "):
            return json.loads(line[len("PROFILE ") :])
    return {"error": result.stderr[-1000:]}


def _start_server(env: dict, port: int, log) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "kb_platform.wsgi",
            "-b",
            f"127.0.0.1:{port}",
            "-w",
            str(WORKERS),
            "--timeout",
            "120",
            "--backlog",
            "2048",
        ],
        env=env,
        cwd=REPO,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def _wait_ready(base: str, proc: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited early")
        try:
            if httpx.get(f"{base}/", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError("gunicorn did not become ready")


async def _client_session(base: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    await client.get("/ask/")  # the CSRF cookie for the portal form
    return client


async def _run_level(
    base: str, kind: str, concurrency: int, total: int, max_seconds: float, queries: list[str]
) -> dict:
    """`concurrency` clients share `total` requests (stop early at max_seconds)."""
    clients = await asyncio.gather(*(_client_session(base) for _ in range(concurrency)))
    latencies: list[float] = []
    errors: dict[str, int] = {}
    counter = {"next": 0}
    rng = random.Random(concurrency * 7 + len(kind))
    deadline = time.perf_counter() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while counter["next"] < total and time.perf_counter() < deadline:
            counter["next"] += 1
            q = rng.choice(queries)
            t0 = time.perf_counter()
            try:
                if kind == "search":
                    r = await client.get("/search/", params={"q": q})
                else:
                    r = await client.post(
                        "/ask/",
                        data={"q": q, "csrfmiddlewaretoken": client.cookies.get("csrftoken", "")},
                        headers={"Referer": f"{base}/ask/"},
                    )
                ok = r.status_code == 200
                if not ok:
                    errors[str(r.status_code)] = errors.get(str(r.status_code), 0) + 1
            except httpx.HTTPError as exc:
                ok = False
                errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
            if ok:
                latencies.append((time.perf_counter() - t0) * 1000)

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in clients))
    elapsed = time.perf_counter() - started
    await asyncio.gather(*(c.aclose() for c in clients))
    arr = np.array(latencies) if latencies else np.array([float("nan")])
    done = len(latencies) + sum(errors.values())
    return {
        "requests": done,
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "seconds": round(elapsed, 2),
        "throughput_rps": round(len(latencies) / elapsed, 1) if elapsed else 0.0,
        "p50_ms": round(float(np.percentile(arr, 50)), 1),
        "p95_ms": round(float(np.percentile(arr, 95)), 1),
        "p99_ms": round(float(np.percentile(arr, 99)), 1),
        "max_ms": round(float(arr.max()), 1),
    }


def _queries(eval_dir: Path) -> list[str]:
    path = eval_dir / "emanual-samsung-tv" / "queries.jsonl"
    return [json.loads(line)["text"] for line in path.read_text().splitlines() if line.strip()]


def _run_backend(backend: str, *, eval_dir: Path, queries: list[str], quick: bool) -> dict:
    """One server configuration (embedding backend): prepare, warm up, every level."""
    corpus = eval_dir / "emanual-samsung-tv" / "corpus.jsonl"
    levels = (10, 50) if quick else LEVELS
    # The machine may be shared: record how busy it was before we started.
    loadavg_before = round(os.getloadavg()[0], 2)
    tmp = Path(tempfile.mkdtemp(prefix="kb-bench-load-"))
    env = _server_env(tmp)
    env["EMBEDDING_BACKEND"] = backend
    log_path = tmp / "server.log"
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    results: dict = {
        "server": {
            "gunicorn_workers": WORKERS,
            "database": "sqlite (temp copy)"
            if not os.environ.get("BENCH_LOAD_DATABASE_URL")
            else "BENCH_LOAD_DATABASE_URL",
            "embedding_backend": backend,
            "answerer": "extractive",
            "corpus": str(corpus.relative_to(eval_dir.parent)) if corpus.exists() else str(corpus),
            "client": "httpx.AsyncClient, same machine, loopback",
        },
        "levels": {},
        "loadavg_1m_before": loadavg_before,
    }
    with log_path.open("w") as log:
        results["prepare_seconds"] = round(_prepare(env, corpus, log), 1)
        results["single_request_ms"] = _profile(env, queries)
        print(f"   {backend} single-request ms: {results['single_request_ms']}", flush=True)
        server = _start_server(env, port, log)
        try:
            _wait_ready(base, server)
            # Warm-up: every worker loads the model and the index before timing starts.
            warm = asyncio.run(_run_level(base, "ask", WORKERS * 2, WORKERS * 8, 120, queries))
            asyncio.run(_run_level(base, "search", WORKERS * 2, WORKERS * 8, 120, queries))
            results["warmup_ask"] = warm
            for level in levels:
                total = min(level * (6 if quick else 12), 1200)
                out = {}
                for kind in ("search", "ask"):
                    out[kind] = asyncio.run(
                        _run_level(base, kind, level, total, 30 if quick else 60, queries)
                    )
                    print(f"   {backend} {level:>3} clients {kind:<6} {out[kind]}", flush=True)
                out["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
                results["levels"][str(level)] = out
        finally:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
    at50 = results["levels"].get("50", {}).get("ask")
    if at50:
        results["target"] = {
            "ask_p95_ms_at_50_clients": at50["p95_ms"],
            "target_ms": ASK_P95_TARGET_MS,
            "met": bool(at50["p95_ms"] < ASK_P95_TARGET_MS and at50["errors"] == 0),
            "zero_errors": all(
                v["errors"] == 0
                for lvl in results["levels"].values()
                for v in lvl.values()
                if isinstance(v, dict)
            ),
        }
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def run(args) -> dict:
    """The real embedder (torch), then the int8 ONNX one for comparison (not with --quick)."""
    # A log line per request would cost the load generator CPU the server needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    eval_dir = Path(args.eval_dir)
    queries = _queries(eval_dir)
    quick = bool(getattr(args, "quick", False))
    chosen = os.environ.get("BENCH_LOAD_EMBEDDING")
    backends = [chosen] if chosen else (["torch"] if quick else ["torch", "onnx-int8"])
    runs = {b: _run_backend(b, eval_dir=eval_dir, queries=queries, quick=quick) for b in backends}
    return {"runs": runs, "primary": backends[0]}
