"""The load benchmark's request preparation and result parsing (bench/bench_load.py).

The benchmark itself runs under `make bench`; these tests make sure the requests it fires are
ones the portal accepts (so a fast run is not a run of fast 403s) and that wrk's counts are
read the right way round.
"""

from __future__ import annotations

import re
import socket
from urllib.parse import urlparse

import pytest

from bench import bench_load
from support.models import Interaction

pytestmark = pytest.mark.django_db(transaction=True)

WRK_STDOUT = """Running 15s test @ http://127.0.0.1:8000
  1 threads and 50 connections
WRK_RESULT {"requests":3000,"duration_us":15000000,"connect":0,"read":2,"write":0,\
"status":12,"timeout":3,"p50_us":180000,"p95_us":204600,"p99_us":215900,"max_us":325500}
"""


def _send(url: str, raw: bytes) -> bytes:
    """Send one prepared request as-is (as wrk does) and read the whole response."""
    parts = urlparse(url)
    with socket.create_connection((parts.hostname, parts.port or 80), timeout=30) as sock:
        sock.sendall(raw)
        data = b""
        # The server may keep the connection open (HTTP/1.1): read to Content-Length.
        while b"\r\n\r\n" not in data and (chunk := sock.recv(65536)):
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        match = re.search(rb"(?im)^content-length:\s*(\d+)", head)
        while (match is None or len(body) < int(match.group(1))) and (chunk := sock.recv(65536)):
            body += chunk
    return head + b"\r\n\r\n" + body


def test_wrk_result_counts_http_errors_and_socket_errors_as_failures():
    result = bench_load.parse_wrk_output(WRK_STDOUT)
    assert result["ok"] == 3000 - 12
    assert result["errors"] == 12 + 2 + 3
    assert result["error_kinds"] == {"read": 2, "status": 12, "timeout": 3}
    assert result["throughput_rps"] == round((3000 - 12) / 15, 1)
    assert (result["p50_ms"], result["p95_ms"], result["max_ms"]) == (180.0, 204.6, 325.5)


def test_wrk_output_without_a_result_line_is_an_error_not_zero():
    with pytest.raises(RuntimeError, match="wrk printed no result"):
        bench_load.parse_wrk_output("unable to connect to 127.0.0.1:8000 Connection refused")


def test_request_file_is_length_prefixed_so_bodies_may_hold_newlines(tmp_path):
    raws = [b"GET / HTTP/1.1\r\n\r\n", b"POST /ask/ HTTP/1.1\r\n\r\nq=a\nb"]
    path = tmp_path / "reqs"
    bench_load.write_requests(path, raws)
    data, read = path.read_bytes(), []
    while data:
        length, _, rest = data.partition(b"\n")
        read.append(rest[: int(length)])
        data = rest[int(length) :]
    assert read == raws


def test_prepared_asks_and_searches_are_answered_by_the_portal(live_server, small_kb):
    """Browser-like sessions, then the exact bytes wrk would send: 200 with a real answer."""
    sessions = bench_load._browser_sessions(live_server.url, 2, "How do I reset my password?")
    assert all(token and session_id for token, session_id in sessions)
    host = urlparse(live_server.url).netloc
    questions = ["How do I reset my password?", "How do I connect the TV to Wi-Fi?"]
    before = Interaction.objects.count()
    for kind in ("ask", "ask_unseen", "search"):
        prepared = bench_load._prepared_requests(
            kind, host=host, sessions=sessions, queries=questions, count=2
        )
        for raw in prepared:
            response = _send(live_server.url, raw)
            assert response.startswith(b"HTTP/1.1 200"), response[:300]
            if kind == "search":
                assert b"How to reset your password" in response or b"Wi-Fi" in response
            else:
                assert b'class="answer' in response and b"chip" in response
    # Every prepared ask was recorded as an interaction of the session that sent it.
    assert Interaction.objects.count() == before + 4
    assert set(Interaction.objects.values_list("session_key", flat=True)) <= {
        session_id for _, session_id in sessions
    }
