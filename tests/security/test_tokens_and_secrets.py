"""API tokens expire and die with a password change; backups are private files."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _api(token: str) -> Client:
    return Client(HTTP_AUTHORIZATION=f"Token {token}")


def test_an_old_token_stops_working(settings):
    settings.API_TOKEN_MAX_AGE_DAYS = 30
    user = UserFactory(username="token_user", role="agent")
    token = Token.objects.create(user=user)
    assert _api(token.key).get("/api/conversations").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=31))
    r = _api(token.key).get("/api/conversations")
    assert r.status_code == 401 and "expired" in r.content.decode()
    # Signed in, the user gets a fresh one.
    c = Client()
    c.force_login(user)
    fresh = c.post("/api/token").json()["token"]
    assert fresh != token.key and _api(fresh).get("/api/conversations").status_code == 200


def test_a_password_change_revokes_api_tokens():
    user = UserFactory(username="token_user2", role="agent")
    token = Token.objects.create(user=user)
    user.first_name = "Still valid after a profile edit"
    user.save()
    assert Token.objects.filter(pk=token.pk).exists()
    user.set_password("a-brand-new-password-1")
    user.save()
    assert not Token.objects.filter(pk=token.pk).exists()
    assert _api(token.key).get("/api/conversations").status_code == 401


def test_backup_files_are_private_to_their_owner(tmp_path):
    import os
    import stat

    from kb_platform.backup import backup_create

    UserFactory(username="hash_holder")
    old = os.umask(0o022)  # a typical shell: files would otherwise be world-readable
    try:
        backup_create(tmp_path / "backup", log=lambda _msg: None)
    finally:
        os.umask(old)
    root = tmp_path / "backup"
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    paths = list(root.rglob("*"))
    assert paths
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode & 0o077 == 0, f"{path} is {oct(mode)}"
