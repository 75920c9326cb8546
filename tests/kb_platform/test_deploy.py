"""Production settings: `check --deploy` is clean with the README's settings, and the app
refuses to start with no secret key unless the demo (or DEBUG) says so explicitly."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys

import pytest
from django.test import Client

from tests.conftest import REPO_ROOT

# The production settings the README documents (Deploying), besides database, broker and LLM.
PRODUCTION_ENV = {
    "DJANGO_ALLOWED_HOSTS": "help.example.com",
    "DJANGO_CSRF_TRUSTED_ORIGINS": "https://help.example.com",
    "DJANGO_SECURE_COOKIES": "true",
    "DJANGO_SECURE_SSL_REDIRECT": "true",
    "DJANGO_SECURE_HSTS_SECONDS": "31536000",
    "DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS": "true",
    "DJANGO_SECURE_HSTS_PRELOAD": "true",
    "DJANGO_TRUST_X_FORWARDED_PROTO": "true",
    "TRUSTED_PROXY_HOPS": "1",
    "DJANGO_REQUIRE_SECRET_KEY": "true",
}


def _manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    base.pop("KB_DEMO", None)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_is_clean_with_the_documented_production_settings(tmp_path):
    key_file = tmp_path / "django_key"
    key_file.write_text(secrets.token_urlsafe(50))
    env = {**PRODUCTION_ENV, "DJANGO_SECRET_KEY_FILE": str(key_file)}
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout
    readme = (REPO_ROOT / "README.md").read_text()
    for name in PRODUCTION_ENV:
        assert name in readme, f"{name} is not in the README's deployment settings"


def test_no_secret_key_refuses_to_start_unless_the_demo_says_so(tmp_path):
    refused = _manage("check", env={"KB_VAR_DIR": str(tmp_path)})
    assert refused.returncode != 0
    assert "DJANGO_SECRET_KEY" in refused.stderr
    # The demo: a per-install key, generated once, private, reused.
    demo = _manage("check", env={"KB_DEMO": "true", "KB_VAR_DIR": str(tmp_path)})
    assert demo.returncode == 0, demo.stderr
    key_file = tmp_path / "secret_key"
    key = key_file.read_text()
    assert len(key) >= 50 and key != "insecure-demo-key-change-me"
    assert key_file.stat().st_mode & 0o077 == 0
    _manage("check", env={"KB_DEMO": "true", "KB_VAR_DIR": str(tmp_path)})
    assert key_file.read_text() == key
    # DJANGO_REQUIRE_SECRET_KEY=true wins over the demo switch.
    strict = _manage(
        "check",
        env={"KB_DEMO": "true", "KB_VAR_DIR": str(tmp_path), "DJANGO_REQUIRE_SECRET_KEY": "true"},
    )
    assert strict.returncode != 0


def test_the_built_in_key_is_gone(settings):
    assert settings.SECRET_KEY != "insecure-demo-key-change-me"


@pytest.mark.django_db
def test_every_page_has_a_content_security_policy_without_inline_script(settings):
    r = Client().get("/")
    policy = r["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "'unsafe-inline'" not in policy.split("style-src")[0]
    assert "frame-ancestors 'none'" in policy
    assert b"<script>" not in r.content
    # The embeddable widget frame may be framed by other sites.
    frame = Client().get("/widget/frame/")
    assert "frame-ancestors *" in frame["Content-Security-Policy"]


@pytest.mark.django_db
def test_no_template_has_inline_script_or_handlers():
    import re

    offenders = []
    for path in (REPO_ROOT / "templates").rglob("*.html"):
        text = path.read_text()
        if re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text) or re.search(r"\son\w+=\"", text):
            offenders.append(str(path.relative_to(REPO_ROOT)))
    assert offenders == []


@pytest.mark.django_db
def test_behind_the_tls_proxy_requests_are_https(settings):
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31536000
    proxied = Client().get("/", HTTP_X_FORWARDED_PROTO="https", secure=False)
    assert proxied.status_code == 200 and "Strict-Transport-Security" in proxied
    plain = Client().get("/")
    assert plain.status_code == 301 and plain["Location"].startswith("https://")
