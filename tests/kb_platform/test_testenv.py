"""scripts/testenv.sh: every run gets its own directory and leaves no service behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "testenv.sh"

pytestmark = pytest.mark.integration


@pytest.fixture
def tmp_path() -> Iterator[Path]:
    """A scratch TMPDIR the 'postgres' user can enter (pytest's tmp_path is private to us)."""
    path = Path(tempfile.mkdtemp(prefix="kb-testenv-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def script_env(tmp_path) -> dict[str, str]:
    if not list(Path("/usr/lib/postgresql").glob("*/bin/initdb")) or not shutil.which(
        "redis-server"
    ):
        pytest.skip("PostgreSQL or Redis is not installed (make test-deps)")
    env = {k: v for k, v in os.environ.items() if k != "KB_TESTENV_DIR"}
    # Ports away from the defaults and from the run this test is part of.
    env.update(KB_TEST_PG_PORT="55731", KB_TEST_REDIS_PORT="56731", TMPDIR=str(tmp_path))
    return env


def _alive(pattern: str) -> bool:
    return subprocess.run(["pgrep", "-f", pattern], capture_output=True).returncode == 0


def test_run_uses_a_fresh_directory_and_cleans_up_after_a_failing_command(script_env, tmp_path):
    out = tmp_path / "seen"
    result = subprocess.run(
        ["bash", str(SCRIPT), "run", "--", "sh", "-c",
         f'echo "$KB_TESTENV_DIR $DATABASE_URL $TEST_REDIS_URL" > {out}; exit 3'],
        env=script_env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode == 3, result.stderr
    run_dir, database_url, redis_url = out.read_text().split()
    assert Path(run_dir).parent == tmp_path and Path(run_dir).name.startswith("kb-testenv.")
    assert database_url.startswith("postgres://kb@127.0.0.1:")
    assert redis_url.startswith("redis://127.0.0.1:")
    assert not Path(run_dir).exists()
    assert not _alive(run_dir)


def test_a_failed_start_stops_what_it_had_started(script_env, tmp_path):
    script_env["KB_TEST_REDIS_PORT"] = "99999999"  # Redis refuses it, after PostgreSQL is up
    result = subprocess.run(
        ["bash", str(SCRIPT), "run", "--", "true"],
        env=script_env, capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert result.returncode != 0
    assert not _alive(str(tmp_path / "kb-testenv."))
    assert not list(tmp_path.glob("kb-testenv.*"))


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_a_terminated_run_stops_the_services(script_env, tmp_path):
    proc = subprocess.Popen(
        ["bash", str(SCRIPT), "run", "--", "sleep", "60"],
        env=script_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
        # A shell started with SIGINT ignored (pytest run in the background by `cmd &` or
        # nohup) can never trap it; a terminal's Ctrl-C reaches a shell that has it.
        preexec_fn=_default_sigint,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("kb-testenv.*/ports")):
        assert time.monotonic() < deadline, "the services did not come up"
        assert proc.poll() is None
        time.sleep(0.2)
    os.killpg(proc.pid, signal.SIGINT)  # what Ctrl-C sends to the foreground process group
    assert proc.wait(timeout=60) == 130
    assert not _alive(str(tmp_path / "kb-testenv."))
    assert not list(tmp_path.glob("kb-testenv.*"))
