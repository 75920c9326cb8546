"""backup_kb / restore_kb round trip: every article, revision, interaction and feedback survives,
and search works after the restore (index restored, or rebuilt when it cannot be used)."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from kb_platform.backup import model_counts
from knowledge import services as knowledge
from knowledge.models import Article, Revision
from retrieval import index as index_module
from retrieval.services import search
from support import services as support_services
from support.models import Feedback, Interaction

QUIET = {"stdout": io.StringIO(), "stderr": io.StringIO()}


def _fill(small_kb, staff) -> None:
    knowledge.revision_save(
        article=small_kb.password,
        title="How to reset your password",
        body="Draft: the reset link is valid for 48 hours.",
        author=staff.editor,
        base_revision_id=small_kb.password.latest_revision_id,
    )
    knowledge.article_create(
        title="Internal draft", body="Only a draft.", author=staff.editor, visibility="internal"
    )
    customer = Client()
    customer.force_login(staff.customer)
    customer.post("/ask/", {"q": "How do I reset my password?"})
    interaction = Interaction.objects.get(user=staff.customer)
    customer.post(f"/ask/{interaction.pk}/feedback/", {"helpful": "no", "comment": "Too short"})
    support_services.conversation_create(
        subject="TV", body="No Wi-Fi.", customer=staff.customer, channel="portal"
    )


def _snapshot() -> dict:
    return {
        "counts": model_counts(),
        "revisions": sorted(Revision.objects.values_list("article__slug", "number", "body")),
        "feedback": sorted(Feedback.objects.values_list("interaction__question", "comment")),
        "interactions": sorted(Interaction.objects.values_list("question", "answer_text")),
    }


@pytest.mark.django_db(transaction=True)
def test_backup_restore_round_trip(small_kb, staff, tmp_path, settings):
    _fill(small_kb, staff)
    before = _snapshot()
    assert before["counts"]["support.feedback"] == 1
    out = tmp_path / "backup"
    call_command("backup_kb", str(out), **QUIET)
    manifest = json.loads((out / "backup.json").read_text())
    assert manifest["counts"] == before["counts"]
    assert manifest["index_version"]
    assert (out / "db.json").is_file() and any((out / "index").rglob("*.faiss"))

    # A restore into a database that has data is refused (nothing overwritten).
    with pytest.raises(CommandError, match="empty database"):
        call_command("restore_kb", str(out))

    # Lose everything: database rows and the index folder.
    call_command("flush", interactive=False, verbosity=0)
    assert Article.objects.count() == 0
    settings.INDEX_DIR = tmp_path / "new-index"
    index_module._stores.clear()

    call_command("restore_kb", str(out), **QUIET)
    assert _snapshot() == before
    assert (Path(settings.INDEX_DIR) / "manifest.json").is_file()
    hits = search("reset password link", audience="public").hits
    assert hits and hits[0].title == "How to reset your password"
    # The restored users can sign in and the app serves pages.
    r = Client().get("/search/", {"q": "connect wifi"})
    assert r.status_code == 200 and "Connect your TV to Wi-Fi" in r.content.decode()


@pytest.mark.django_db(transaction=True)
def test_restore_rebuilds_the_index_when_asked_and_refuses_damaged_backups(
    small_kb, staff, tmp_path, settings
):
    out = tmp_path / "backup"
    call_command("backup_kb", str(out), **QUIET)
    with pytest.raises(CommandError, match="not empty"):
        call_command("backup_kb", str(out))
    damaged = tmp_path / "damaged"
    shutil.copytree(out, damaged)
    with (damaged / "db.json").open("a") as fh:
        fh.write(" ")
    call_command("flush", interactive=False, verbosity=0)
    with pytest.raises(CommandError, match="checksum"):
        call_command("restore_kb", str(damaged))
    assert Article.objects.count() == 0
    settings.INDEX_DIR = tmp_path / "rebuilt-index"
    index_module._stores.clear()
    call_command(
        "restore_kb",
        str(out),
        "--rebuild-index",
        **QUIET,
    )
    assert Article.objects.count() == 2
    hits = search("wireless network remote", audience="public").hits
    assert hits and hits[0].title == "Connect your TV to Wi-Fi"
