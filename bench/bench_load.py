"""Load: gunicorn (3 workers) with the demo KB, driven over loopback at 10/50/100 clients.

Portal search (GET /search/) and portal ask without JavaScript (POST /ask/, the whole answer
server-side, extractive answerer) are measured separately at each concurrency: throughput,
latency percentiles and errors. Each client is a browser-like session (its own session and
CSRF cookies). The server uses a throwaway SQLite copy (or the database in
BENCH_LOAD_DATABASE_URL, which must be a scratch database) loaded by `manage.py load_demo`,
with the real embedding model (torch), then the int8 ONNX export of the same model for
comparison (BENCH_LOAD_EMBEDDING=torch|onnx-int8|fake picks one).

The load generator is wrk (C, one thread, closed loop: each connection sends its next request
when the last one is answered), so on 2 cores it takes little of the CPU the server needs;
without wrk it falls back to an httpx asyncio client, which costs the server about a third of
its throughput (both are recorded as `client`). `make bench` installs wrk from Debian.

Questions: the "repeat" runs draw from the 315 real TV-manual questions, so after warm-up the
answer cache (ANSWER_CACHE_SECONDS) serves most asks, as it does for a help center's common
questions. The "unseen" run at 50 clients makes every question unique (a case number appended),
so no cache helps: query embedding, hybrid retrieval and the extractive answer every time.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from pathlib import Path
from typing import Any

import httpx
import numpy as np

REPO = Path(__file__).resolve().parent.parent
LEVELS = (10, 50, 100)
WORKERS = int(os.environ.get("BENCH_LOAD_WORKERS", "3"))
# 0: gunicorn's sync workers; N > 0: gthread workers with N threads each (what a deployment
# that streams LLM answers over SSE wants, so a stream holds a thread rather than a process).
THREADS = int(os.environ.get("BENCH_LOAD_THREADS", "0"))
ASK_P95_TARGET_MS = 300.0
LEVEL_SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", "15"))
WRK = shutil.which("wrk")


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
        KB_DEMO="true",  # a per-install secret key under KB_VAR_DIR (no DJANGO_SECRET_KEY)
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
            *(["--worker-class", "gthread", "--threads", str(THREADS)] if THREADS else []),
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


# --- wrk -----------------------------------------------------------------------------------

# Requests are prepared here as raw HTTP and read once by the script's init(); request() only
# hands out the next one, so wrk spends its time on sockets, not on Lua.
WRK_SCRIPT = r"""
local reqs = {}
function init(args)
  local f = assert(io.open(args[1], "rb"))
  local data = f:read("*a")
  f:close()
  local pos = 1
  while pos <= #data do
    local nl = data:find("\n", pos, true)
    local len = tonumber(data:sub(pos, nl - 1))
    reqs[#reqs + 1] = data:sub(nl + 1, nl + len)
    pos = nl + len + 1
  end
end
local i = 0
function request()
  i = i + 1
  return reqs[(i - 1) % #reqs + 1]
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99), latency.max))
end
"""


def raw_request(
    method: str, path: str, *, host: str, headers: dict[str, str], body: str = ""
) -> bytes:
    """One HTTP/1.1 request as bytes, the way wrk.format would build it."""
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in headers.items()]
    payload = body.encode()
    if method != "GET":
        lines.append(f"Content-Length: {len(payload)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + payload


def write_requests(path: Path, requests: list[bytes]) -> None:
    """Length-prefixed requests (a decimal length line, then the bytes), as WRK_SCRIPT reads."""
    with path.open("wb") as out:
        for raw in requests:
            out.write(f"{len(raw)}\n".encode() + raw)


def parse_wrk_output(stdout: str) -> dict:
    """The WRK_RESULT line that WRK_SCRIPT's done() prints, in this benchmark's terms."""
    match = re.search(r"^WRK_RESULT (\{.*\})$", stdout, re.MULTILINE)
    if not match:
        raise RuntimeError(f"wrk printed no result: {stdout[-500:]!r}")
    raw = json.loads(match.group(1))
    kinds = {k: raw[k] for k in ("connect", "read", "write", "status", "timeout") if raw[k]}
    errors = sum(kinds.values())
    # wrk counts a non-2xx/3xx answer in `requests` and in `status`; socket errors in neither.
    ok = raw["requests"] - raw["status"]
    seconds = raw["duration_us"] / 1e6
    return {
        "requests": raw["requests"] + errors - raw["status"],
        "ok": ok,
        "errors": errors,
        "error_kinds": kinds,
        "seconds": round(seconds, 2),
        "throughput_rps": round(ok / seconds, 1) if seconds else 0.0,
        "p50_ms": round(raw["p50_us"] / 1000, 1),
        "p95_ms": round(raw["p95_us"] / 1000, 1),
        "p99_ms": round(raw["p99_us"] / 1000, 1),
        "max_ms": round(raw["max_us"] / 1000, 1),
    }


def _browser_sessions(base: str, count: int, question: str) -> list[tuple[str, str]]:
    """(csrftoken, sessionid) of `count` clients that opened the ask page and asked once."""
    sessions = []
    for _ in range(count):
        with httpx.Client(base_url=base, timeout=60) as client:
            client.get("/ask/")
            token = client.cookies.get("csrftoken") or ""
            response = client.post("/ask/", data={"q": question, "csrfmiddlewaretoken": token})
            if response.status_code != 200 or 'class="answer' not in response.text:
                raise RuntimeError(f"portal ask failed before the load run: {response.status_code}")
            sessions.append((token, client.cookies.get("sessionid") or ""))
    return sessions


def _prepared_requests(
    kind: str, *, host: str, sessions: list[tuple[str, str]], queries: list[str], count: int
) -> list[bytes]:
    """`count` requests, spread round-robin over the client sessions."""
    rng = random.Random(f"{kind}-{count}")
    out = []
    for n in range(count):
        token, session_id = sessions[n % len(sessions)]
        cookie = f"csrftoken={token}; sessionid={session_id}"
        question = rng.choice(queries)
        if kind == "search":
            path = "/search/?" + urllib.parse.urlencode({"q": question})
            out.append(raw_request("GET", path, host=host, headers={"Cookie": cookie}))
            continue
        if kind == "ask_unseen":
            question = f"{question} (case {n})"  # unique: neither cache has seen it
        body = urllib.parse.urlencode({"q": question, "csrfmiddlewaretoken": token})
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        out.append(raw_request("POST", "/ask/", host=host, headers=headers, body=body))
    return out


def _wrk_level(base: str, concurrency: int, seconds: float, script: Path, data: Path) -> dict:
    if WRK is None:
        raise RuntimeError("wrk is not installed (make bench installs it)")
    command = [WRK, "-t1", f"-c{concurrency}", f"-d{int(seconds)}s", "--timeout", "30s"]
    command += ["-s", str(script), base, "--", str(data)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 120)
    return parse_wrk_output(result.stdout)


def _run_levels_wrk(base: str, tmp: Path, queries: list[str], levels, quick: bool) -> dict:
    host = base.removeprefix("http://")
    script = tmp / "load.lua"
    script.write_text(WRK_SCRIPT)
    sessions = _browser_sessions(base, max(levels), queries[0])
    seconds = LEVEL_SECONDS / 2 if quick else LEVEL_SECONDS
    files = {}
    for kind, count in (("search", 4000), ("ask", 4000), ("ask_unseen", 8000)):
        files[kind] = tmp / f"{kind}.requests"
        write_requests(
            files[kind],
            _prepared_requests(kind, host=host, sessions=sessions, queries=queries, count=count),
        )
    out: dict = {"warmup": {}, "levels": {}}
    # Warm-up: every worker loads the model and the index (slow while all load at once on 2
    # cores), then meets the common questions; the ask warm-up gets twice the time.
    out["warmup"]["ask"] = _wrk_level(base, WORKERS * 2, 2 * seconds, script, files["ask"])
    out["warmup"]["search"] = _wrk_level(base, WORKERS * 2, seconds, script, files["search"])
    for level in levels:
        row: dict[str, Any] = {}
        for kind in ("search", "ask"):
            row[kind] = _wrk_level(base, level, seconds, script, files[kind])
            print(f"   {level:>3} clients {kind:<10} {row[kind]}", flush=True)
        if level == 50:
            row["ask_unseen"] = _wrk_level(base, level, seconds, script, files["ask_unseen"])
            print(f"   {level:>3} clients ask_unseen {row['ask_unseen']}", flush=True)
        row["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
        out["levels"][str(level)] = row
    return out


def _run_levels_httpx(base: str, queries: list[str], levels, quick: bool) -> dict:
    out: dict = {"warmup": {}, "levels": {}}
    out["warmup"]["ask"] = asyncio.run(
        _run_level(base, "ask", WORKERS * 2, WORKERS * 8, 120, queries)
    )
    asyncio.run(_run_level(base, "search", WORKERS * 2, WORKERS * 8, 120, queries))
    for level in levels:
        total = min(level * (6 if quick else 12), 1200)
        row: dict[str, Any] = {}
        for kind in ("search", "ask"):
            row[kind] = asyncio.run(
                _run_level(base, kind, level, total, 30 if quick else 60, queries)
            )
            print(f"   {level:>3} clients {kind:<6} {row[kind]}", flush=True)
        row["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
        out["levels"][str(level)] = row
    return out


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
            "gunicorn_worker_class": f"gthread ({THREADS} threads)" if THREADS else "sync",
            "database": "sqlite (temp copy)"
            if not os.environ.get("BENCH_LOAD_DATABASE_URL")
            else "BENCH_LOAD_DATABASE_URL",
            "embedding_backend": backend,
            "answerer": "extractive",
            "corpus": str(corpus.relative_to(eval_dir.parent)) if corpus.exists() else str(corpus),
            "client": (
                "wrk -t1 (closed loop), same machine, loopback"
                if WRK
                else "httpx.AsyncClient, same machine, loopback"
            ),
            "ask_questions": "repeat: 315 TV-manual questions at random (answer cache warm); "
            "ask_unseen: every question unique (no cache)",
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
            if WRK:
                measured = _run_levels_wrk(base, tmp, queries, levels, quick)
            else:
                measured = _run_levels_httpx(base, queries, levels, quick)
            results["warmup"] = measured["warmup"]
            results["levels"] = measured["levels"]
        finally:
            _stop(server)
    at50 = results["levels"].get("50", {}).get("ask")
    unseen = results["levels"].get("50", {}).get("ask_unseen") or {}
    if at50:
        results["target"] = {
            "ask_p95_ms_at_50_clients": at50["p95_ms"],
            "target_ms": ASK_P95_TARGET_MS,
            "met": bool(at50["p95_ms"] < ASK_P95_TARGET_MS and at50["errors"] == 0),
            # The same server with no cache able to help (every question new), as a baseline.
            "unseen_ask_at_50_clients": {
                k: unseen.get(k) for k in ("p95_ms", "throughput_rps", "errors")
            },
            "repeat_vs_unseen_throughput_ratio": round(
                at50["throughput_rps"] / unseen["throughput_rps"], 2
            )
            if unseen.get("throughput_rps")
            else None,
            "zero_errors": all(
                v["errors"] == 0
                for lvl in results["levels"].values()
                for v in lvl.values()
                if isinstance(v, dict)
            ),
        }
    shutil.rmtree(tmp, ignore_errors=True)
    return results


def result_name() -> str:
    """load.json for sync workers on SQLite; _gthread and _postgres name the variants."""
    if os.environ.get("BENCH_LOAD_ONLY") == "second_stage":
        return "load_second_stage"
    name = "load_gthread" if THREADS else "load"
    if os.environ.get("BENCH_LOAD_DATABASE_URL", "").startswith("postgres"):
        name += "_postgres"
    return name


SECOND_STAGE_BACKEND = "onnx-int8"
SECOND_STAGE_TARGET_RATIO = 1.15  # issue 18: unseen-question p95 at 50 clients


STAGE_ROUNDS = int(os.environ.get("BENCH_LOAD_STAGE_ROUNDS", "2"))


def _second_stage_cost(*, eval_dir: Path, queries: list[str]) -> dict:
    """Unseen-question asks at 50 clients with and without the second stage, same run.

    Two prepared servers, identical but for SEARCH_MODE (`hybrid`, the first stage alone, as
    the baseline; `hybrid+rescore`, the default), driven in turn with the same unique questions
    for STAGE_ROUNDS rounds (A B A B: a busy shared machine then weighs on both alike); the ratio
    is that of the median p95s. Also the single-request cost of each mode in one process.
    """
    if WRK is None:
        return {"skipped": "wrk is not installed (make bench installs it)"}
    corpus = eval_dir / "emanual-samsung-tv" / "corpus.jsonl"
    out: dict = {"backend": SECOND_STAGE_BACKEND, "clients": 50, "rounds": STAGE_ROUNDS}
    prepared: dict[str, tuple[Path, dict]] = {}
    modes: dict[str, dict] = {}
    for mode in ("hybrid", "hybrid+rescore"):
        tmp = Path(tempfile.mkdtemp(prefix="kb-bench-stage-"))
        env = _server_env(tmp)
        env.update(EMBEDDING_BACKEND=SECOND_STAGE_BACKEND, SEARCH_MODE=mode)
        with (tmp / "prepare.log").open("w") as log:
            _prepare(env, corpus, log)
        prepared[mode] = (tmp, env)
        modes[mode] = {"single_request_ms": _profile(env, queries), "rounds": []}
    try:
        for round_no in range(STAGE_ROUNDS):
            for mode, (tmp, env) in prepared.items():
                row = _stage_round(tmp, env, queries, seed=round_no)
                modes[mode]["rounds"].append(row)
                print(f"   second stage {mode:<15} round {round_no + 1}: {row}", flush=True)
    finally:
        for tmp, _env in prepared.values():
            shutil.rmtree(tmp, ignore_errors=True)
    for row in modes.values():
        p95s = sorted(r["p95_ms"] for r in row["rounds"])
        row["median_p95_ms"] = p95s[len(p95s) // 2] if len(p95s) % 2 else sum(p95s[-2:]) / 2
    out["modes"] = modes
    base_p95 = modes["hybrid"]["median_p95_ms"]
    new_p95 = modes["hybrid+rescore"]["median_p95_ms"]
    ratio = round(new_p95 / base_p95, 3) if base_p95 else None
    per_query = {
        key: round(
            modes["hybrid+rescore"]["single_request_ms"].get(key, 0)
            - modes["hybrid"]["single_request_ms"].get(key, 0),
            2,
        )
        for key in ("retrieval_search_top8", "answer_question")
    }
    out["target"] = {
        "ask_unseen_p95_ratio_rescore_vs_hybrid": ratio,
        "target_ratio": SECOND_STAGE_TARGET_RATIO,
        "met": ratio is not None and ratio <= SECOND_STAGE_TARGET_RATIO,
        "second_stage_ms_per_query_single_thread": per_query,
    }
    return out


def _stop(server: subprocess.Popen) -> None:
    server.terminate()
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()


def _stage_round(tmp: Path, env: dict, queries: list[str], *, seed: int) -> dict:
    """Start the prepared server, warm it up, drive 50 clients of unseen questions, stop it."""
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with (tmp / "server.log").open("a") as log:
        server = _start_server(env, port, log)
        try:
            _wait_ready(base, server)
            host = base.removeprefix("http://")
            script = tmp / "load.lua"
            script.write_text(WRK_SCRIPT)
            sessions = _browser_sessions(base, 50, queries[0])
            data = tmp / "unseen.requests"
            # Questions unique within and across rounds: no answer cache can help.
            tagged = [f"{q} [{seed}]" for q in queries]
            requests = _prepared_requests(
                "ask_unseen", host=host, sessions=sessions, queries=tagged, count=8000
            )
            write_requests(data, requests)
            warm = tmp / "warm.requests"
            write_requests(
                warm,
                _prepared_requests(
                    "ask_unseen",
                    host=host,
                    sessions=sessions,
                    queries=[f"{q} [warm-up {seed}]" for q in queries],
                    count=2000,
                ),
            )
            _wrk_level(base, WORKERS * 2, LEVEL_SECONDS, script, warm)
            row = _wrk_level(base, 50, LEVEL_SECONDS, script, data)
            row["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
            return row
        finally:
            _stop(server)


def run(args) -> dict:
    """The real embedder (torch), then the int8 ONNX one for comparison (not with --quick),
    then the second stage's cost (BENCH_LOAD_ONLY=second_stage runs only that)."""
    # A log line per request would cost the load generator CPU the server needs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    eval_dir = Path(args.eval_dir)
    queries = _queries(eval_dir)
    quick = bool(getattr(args, "quick", False))
    if os.environ.get("BENCH_LOAD_ONLY") == "second_stage":
        return {"second_stage": _second_stage_cost(eval_dir=eval_dir, queries=queries)}
    chosen = os.environ.get("BENCH_LOAD_EMBEDDING")
    backends = [chosen] if chosen else (["torch"] if quick else ["torch", "onnx-int8"])
    runs = {b: _run_backend(b, eval_dir=eval_dir, queries=queries, quick=quick) for b in backends}
    out = {"runs": runs, "primary": backends[0]}
    if not quick:
        out["second_stage"] = _second_stage_cost(eval_dir=eval_dir, queries=queries)
    return out
