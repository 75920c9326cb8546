"""CI=true turns a skip into a failed run, except for tests on the allow-list (marked gpu)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

SAMPLE = """
import pytest

def test_runs():
    pass

@pytest.mark.gpu
def test_needs_a_gpu():
    pytest.skip("no GPU here")
"""


def _run(tmp_path: Path, source: str, ci: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_sample.py").write_text(source)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "CI": ci}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.ci_skips", "-p", "no:django",
         "-p", "no:cacheprovider", "-q", "--rootdir", str(tmp_path), str(tmp_path)],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.mark.parametrize("ci", ["true", ""])
def test_allowed_gpu_skip_passes(tmp_path, ci):
    result = _run(tmp_path, SAMPLE, ci)
    assert result.returncode == 0, result.stdout


def test_any_other_skip_fails_the_run_in_ci(tmp_path):
    source = SAMPLE + "\ndef test_browser():\n    pytest.skip('Chromium is not installed')\n"
    result = _run(tmp_path, source, "true")
    assert result.returncode == 1, result.stdout
    assert "skips are failures in CI" in result.stdout
    assert "test_sample.py::test_browser: Skipped: Chromium is not installed" in result.stdout
    assert "test_needs_a_gpu" not in result.stdout.split("skips are failures in CI")[1]


def test_skips_do_not_fail_outside_ci(tmp_path):
    source = SAMPLE + "\ndef test_browser():\n    pytest.skip('Chromium is not installed')\n"
    assert _run(tmp_path, source, "").returncode == 0
