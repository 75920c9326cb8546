"""With CI=true, a skipped test fails the run: a skip in CI is a test that never ran.

The allow-list is explicit: tests marked `gpu` (they need hardware CI machines lack) may skip.
Everything else that skips (no Chromium, no PostgreSQL, no Redis, ...) means the CI machine
is not set up the way `make test` sets it up, and that must show as red, not as a quiet "s".
"""

from __future__ import annotations

import os

import pytest

ALLOWED_SKIP_MARKERS = frozenset({"gpu"})


def _ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


class _SkipGuard:
    def __init__(self) -> None:
        self.disallowed: list[tuple[str, str]] = []

    @pytest.hookimpl
    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if not report.skipped or hasattr(report, "wasxfail"):
            return
        if ALLOWED_SKIP_MARKERS & set(report.keywords):
            return
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        self.disallowed.append((report.nodeid, reason))

    @pytest.hookimpl(trylast=True)
    def pytest_terminal_summary(self, terminalreporter) -> None:
        if self.disallowed:
            terminalreporter.section("skips are failures in CI (CI=true)", red=True)
            for nodeid, reason in self.disallowed:
                terminalreporter.line(f"{nodeid}: {reason}")

    @pytest.hookimpl(trylast=True)
    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if self.disallowed and exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "gpu: needs a GPU; the only tests allowed to skip in CI")
    if _ci():
        config.pluginmanager.register(_SkipGuard(), "kb-ci-skip-guard")
