"""A fake vLLM: a real local HTTP server speaking the OpenAI-compatible wire format.

Scripted behaviours per chat request: normal, 503, timeout, disconnect (mid-stream),
malformed (a broken JSON chunk), garbage (HTML instead of SSE), no_answer, uncited.
Standalone for demos and browser tests:

    python -m tests.generation.fake_vllm --port 8001 [--model fake-model] [--api-key KEY]

With no scripted reply it answers "grounded": the first sentences of source [1] in the prompt,
cited [1] (or NO_ANSWER when the prompt has no sources).
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

BEHAVIOURS = (
    "normal",
    "503",
    "timeout",
    "disconnect",
    "malformed",
    "garbage",
    "no_answer",
    "uncited",
)


def grounded_reply(messages: list[dict[str, Any]]) -> str:
    """A plausible answer: the first two sentences of source 1, each cited [1]."""
    user = next((m["content"] for m in reversed(messages) if m.get("role") == "user"), "")
    match = re.search(r"<source id=(\d+)>\n(.*?)\n</source>", user, re.DOTALL)
    if not match:
        return "NO_ANSWER"
    body = [
        line
        for line in match.group(2).splitlines()
        if not line.startswith(("Title:", "Section:")) and line.strip()
    ]
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", " ".join(body)) if s.strip()][:2]
    if not sentences:
        return "NO_ANSWER"
    number = match.group(1)
    cited = []
    for sentence in sentences:
        if sentence[-1] in ".!?":
            cited.append(f"{sentence[:-1]} [{number}]{sentence[-1]}")
        else:
            cited.append(f"{sentence} [{number}].")
    return " ".join(cited)


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address) -> None:
        # Clients that time out or hang up are part of the script, not errors.
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return
        super().handle_error(request, client_address)


class FakeVLLM:
    """Start with `start()`, stop with `stop()`; configure `script`, `default`, `reply`."""

    def __init__(
        self,
        *,
        model: str = "fake-model",
        api_key: str = "",
        host: str = "127.0.0.1",
        port: int = 0,
        sleep_s: float = 2.0,
        token_delay_s: float = 0.0,
    ) -> None:
        self.model = model
        self.api_key = api_key
        self.sleep_s = sleep_s  # the "timeout" behaviour's sleep
        self.token_delay_s = token_delay_s
        self.script: deque[str] = deque()  # behaviours for the next chat requests, in order
        self.default = "normal"
        self.reply: str | None = None  # fixed reply text; None: grounded_reply(messages)
        self.json_reply: dict | None = None
        # "disconnect": the piece before which the connection drops; None: two pieces after
        # the first sentence, so a grounding gate has released text the client must clear.
        self.disconnect_at: int | None = None
        self.requests: list[dict[str, Any]] = []  # every request: path, headers, body
        self.server_seconds: list[float] = []  # time spent serving each chat request
        self._lock = threading.Lock()
        self._server = _QuietServer((host, port), self._handler_class())
        self._thread: threading.Thread | None = None

    # --- control ------------------------------------------------------------------------
    @property
    def port(self) -> int:
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["path"].endswith("/chat/completions")]

    def start(self) -> FakeVLLM:
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def reset(self) -> None:
        with self._lock:
            self.script.clear()
            self.requests.clear()
            self.server_seconds.clear()
        self.default = "normal"
        self.reply = None
        self.json_reply = None
        self.disconnect_at = None

    def _next_behaviour(self) -> str:
        with self._lock:
            return self.script.popleft() if self.script else self.default

    # --- HTTP ---------------------------------------------------------------------------
    def _handler_class(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet tests
                pass

            def _record(self, body: Any) -> None:
                with fake._lock:
                    fake.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )

            def _authorised(self) -> bool:
                if not fake.api_key:
                    return True
                if self.headers.get("Authorization") == f"Bearer {fake.api_key}":
                    return True
                self._json(401, {"error": {"message": "Unauthorized", "code": 401}})
                return False

            def _json(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _chunk(self, text: str) -> None:
                data = text.encode()
                self.wfile.write(f"{len(data):X}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

            def do_GET(self) -> None:
                self._record(None)
                if not self._authorised():
                    return
                if self.path.rstrip("/") == "/fake/stats":
                    # Not part of vLLM: lets benchmarks subtract the server's own time.
                    with fake._lock:
                        seconds = list(fake.server_seconds)
                    self._json(200, {"server_seconds": seconds})
                    return
                if self.path.rstrip("/").endswith("/v1/models"):
                    self._json(
                        200,
                        {
                            "object": "list",
                            "data": [{"id": fake.model, "object": "model", "owned_by": "vllm"}],
                        },
                    )
                else:
                    self._json(404, {"error": {"message": "not found"}})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except json.JSONDecodeError:
                    self._record(None)
                    self._json(400, {"error": {"message": "invalid JSON body"}})
                    return
                self._record(body)
                if not self._authorised():
                    return
                if not self.path.rstrip("/").endswith("/v1/chat/completions"):
                    self._json(404, {"error": {"message": "not found"}})
                    return
                started = time.perf_counter()
                try:
                    self._chat(body)
                finally:
                    with fake._lock:
                        fake.server_seconds.append(time.perf_counter() - started)

            def _chat(self, body: dict) -> None:
                behaviour = fake._next_behaviour()
                if behaviour == "503":
                    self._json(503, {"error": {"message": "Service Unavailable"}})
                    return
                if behaviour == "timeout":
                    time.sleep(fake.sleep_s)
                if behaviour == "garbage":
                    data = b"<html><body>502 Bad Gateway (proxy)</body></html>"
                    self.send_response(200)
                    self.send_header("Content-Type", "text/html")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                    return
                messages = body.get("messages") or []
                if behaviour == "no_answer":
                    text = "NO_ANSWER"
                elif behaviour == "uncited":
                    text = "Sure! Here is what I think without any sources at all."
                else:
                    text = fake.reply if fake.reply is not None else grounded_reply(messages)
                schema = None
                response_format = body.get("response_format") or {}
                if response_format.get("type") == "json_schema":
                    schema = response_format.get("json_schema", {}).get("schema")
                schema = (
                    schema
                    or body.get("guided_json")
                    or (body.get("structured_outputs") or {}).get("json")
                )
                if schema is not None:
                    text = json.dumps(fake.json_reply or _fill_schema(schema))
                prompt_tokens = sum(len(str(m.get("content", ""))) // 4 for m in messages)
                pieces = re.findall(r"\S+\s*", text)
                usage = {
                    "prompt_tokens": prompt_tokens,
                    "completion_tokens": len(pieces),
                    "total_tokens": prompt_tokens + len(pieces),
                }
                if not body.get("stream"):
                    if behaviour in ("malformed",):
                        data = b'{"choices": [{"message": {"content": "Hel'
                        self.send_response(200)
                        self.send_header("Content-Type", "application/json")
                        self.send_header("Content-Length", str(len(data)))
                        self.end_headers()
                        self.wfile.write(data)
                        return
                    self._json(
                        200,
                        {
                            "id": "cmpl-fake",
                            "object": "chat.completion",
                            "model": fake.model,
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": usage,
                        },
                    )
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()

                def event(payload: dict) -> None:
                    self._chunk(f"data: {json.dumps(payload)}\n\n")

                base = {
                    "id": "chatcmpl-fake",
                    "object": "chat.completion.chunk",
                    "model": fake.model,
                }
                event({**base, "choices": [{"index": 0, "delta": {"role": "assistant"}}]})
                drop_at = fake.disconnect_at
                if drop_at is None:
                    ends = [i for i, p in enumerate(pieces) if p.rstrip()[-1:] in ".!?"]
                    drop_at = ends[0] + 2 if ends and ends[0] + 2 < len(pieces) else 3
                for i, piece in enumerate(pieces):
                    if behaviour == "disconnect" and i == drop_at:
                        # Drop the connection in the middle of the body (no [DONE], no 0-chunk).
                        self.wfile.flush()
                        self.connection.shutdown(socket.SHUT_RDWR)
                        self.close_connection = True
                        return
                    if behaviour == "malformed" and i == 2:
                        self._chunk('data: {"choices": [{"delta": {"content": "oops\n\n')
                        continue
                    if fake.token_delay_s:
                        time.sleep(fake.token_delay_s)
                    event({**base, "choices": [{"index": 0, "delta": {"content": piece}}]})
                event(
                    {
                        **base,
                        "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                    }
                )
                if (body.get("stream_options") or {}).get("include_usage"):
                    event({**base, "choices": [], "usage": usage})
                self._chunk("data: [DONE]\n\n")
                self.wfile.write(b"0\r\n\r\n")
                self.wfile.flush()

        return Handler


def _fill_schema(schema: dict) -> Any:
    """A minimal value that follows a JSON schema (objects, arrays, strings, numbers, bools)."""
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {k: _fill_schema(v) for k, v in (schema.get("properties") or {}).items()}
    if kind == "array":
        return [_fill_schema(schema.get("items") or {"type": "string"})]
    if kind in ("integer", "number"):
        return 1
    if kind == "boolean":
        return True
    if "enum" in schema:
        return schema["enum"][0]
    return "text"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A fake vLLM server for demos and tests.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--api-key", default="")
    parser.add_argument("--behaviour", choices=BEHAVIOURS, default="normal")
    parser.add_argument("--token-delay", type=float, default=0.03, help="seconds per token")
    args = parser.parse_args(argv)
    fake = FakeVLLM(
        model=args.model,
        api_key=args.api_key,
        host=args.host,
        port=args.port,
        token_delay_s=args.token_delay,
    )
    fake.default = args.behaviour
    print(f"fake vLLM serving {args.model} on http://{args.host}:{fake.port}/v1", flush=True)
    try:
        fake._server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
