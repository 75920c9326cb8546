"""The lock files cover the human-edited requirements, with hashes, and CPU-only torch."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _names(requirements: Path) -> set[str]:
    names = set()
    for line in requirements.read_text().splitlines():
        line = line.split("#")[0].strip()
        if not line or line.startswith("-"):
            continue
        names.add(_norm(re.split(r"[\s\[<>=!~;]", line, maxsplit=1)[0]))
    return names


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(lock: Path) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes)."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in lock.read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==(\S+)", line)
        if m:
            current = _norm(m.group(1))
            pins[current] = (m.group(2), 0)
        elif current and "--hash=sha256:" in line:
            version, n = pins[current]
            pins[current] = (version, n + 1)
    return pins


@pytest.mark.parametrize(
    ("inputs", "lock"),
    [
        (["requirements.txt"], "requirements.lock"),
        (["requirements.txt", "requirements-dev.txt"], "requirements-dev.lock"),
    ],
)
def test_every_requirement_is_pinned_with_hashes(inputs, lock):
    pins = _pins(ROOT / lock)
    wanted = set().union(*(_names(ROOT / name) for name in inputs))
    missing = sorted(wanted - set(pins))
    assert not missing, f"{lock} lacks {missing}: run `make lock`"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"{lock}: no hashes for {unhashed}"


def test_runtime_lock_agrees_with_the_dev_lock():
    runtime, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    differ = {
        n: (v, dev.get(n, ("absent",))[0])
        for n, (v, _) in runtime.items()
        if dev.get(n, ("",))[0] != v
    }
    assert not differ, f"requirements.lock and requirements-dev.lock disagree: {differ}"


def test_torch_is_the_cpu_build_and_no_cuda_packages_are_locked():
    for lock in ("requirements.lock", "requirements-dev.lock"):
        pins = _pins(ROOT / lock)
        assert pins["torch"][0].endswith("+cpu"), lock
        cuda = sorted(n for n in pins if n.startswith(("nvidia-", "triton", "cuda-")))
        assert not cuda, f"{lock} pulls CUDA packages: {cuda}"


def test_make_installs_from_the_locks_with_hash_checking():
    makefile = (ROOT / "Makefile").read_text()
    assert "pip install -q --require-hashes -r requirements.lock" in makefile
    assert "pip install -q --require-hashes -r requirements-dev.lock" in makefile
