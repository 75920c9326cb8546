"""The test set-up itself: where screenshots go, which Chromium the browser tests use."""

from __future__ import annotations

import shutil
import subprocess

from tests.conftest import REPO_ROOT, chromium_path


def test_screenshots_go_to_an_ignored_folder_by_default(request, monkeypatch):
    monkeypatch.delenv("KB_SCREENSHOT_DIR", raising=False)
    folder = request.getfixturevalue("screenshot_dir")
    assert folder == REPO_ROOT / "test-artifacts" / "screenshots"
    assert folder != (REPO_ROOT / "docs" / "screenshots")
    if shutil.which("git") and (REPO_ROOT / ".git").exists():
        ignored = subprocess.run(
            ["git", "check-ignore", "-q", str(folder / "portal-answer.png")], cwd=REPO_ROOT
        )
        assert ignored.returncode == 0, "test-artifacts/ must be in .gitignore"


def test_make_screenshots_refreshes_the_readme_ones(request, monkeypatch):
    monkeypatch.setenv("KB_SCREENSHOT_DIR", "docs/screenshots")
    assert request.getfixturevalue("screenshot_dir") == REPO_ROOT / "docs" / "screenshots"
    makefile = (REPO_ROOT / "Makefile").read_text()
    assert "KB_SCREENSHOT_DIR=docs/screenshots" in makefile


def test_browser_tests_look_for_chromium_as_the_installer_does():
    assert chromium_path() == shutil.which("chromium")
    installer = (REPO_ROOT / "scripts" / "install-system-deps.sh").read_text()
    assert "command -v chromium" in installer
    fixed_path = "/usr/bin/" + "chromium"
    hard_coded = [p for p in (REPO_ROOT / "tests").rglob("*.py") if fixed_path in p.read_text()]
    assert not hard_coded
