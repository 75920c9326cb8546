"""Lost index tasks (broker down at publish time) are repaired by the reconcile job."""

from __future__ import annotations

import pytest

from knowledge import services as kb
from retrieval import services
from retrieval.tasks import reconcile_index
from tests.factories import make_article

pytestmark = pytest.mark.django_db


def _ids(query: str, audience: str = "public") -> list[int]:
    return [h.article_id for h in services.search(query, audience=audience).hits]


def test_reconcile_indexes_what_publishing_never_announced(reviewer):
    known = make_article(author=reviewer, title="Pair the remote", body="Hold Back and Play.")
    services.index_rebuild()
    # Published inside the test transaction: no on-commit signal, as if the broker was down.
    missed = make_article(
        author=reviewer, title="Mount the wall bracket", body="Fix the bracket with four screws."
    )
    assert missed.pk not in _ids("wall bracket screws")
    assert services.index_drift() == {"to_index": [missed.pk], "to_remove": []}

    result = reconcile_index()

    assert result["action"] == "incremental"
    assert _ids("wall bracket screws")[0] == missed.pk
    assert known.pk in _ids("pair the remote")
    assert services.index_reconcile()["action"] == "none"  # nothing left to repair


def test_reconcile_removes_archived_and_reindexes_visibility_changes(reviewer):
    public = make_article(author=reviewer, title="Refund policy", body="Refunds take five days.")
    going = make_article(author=reviewer, title="Old firmware", body="Firmware 1.0 steps.")
    services.index_rebuild()
    kb.article_archive(article=going, archived_by=reviewer)  # signal never delivered
    kb.article_update_metadata(article=public, updated_by=reviewer, visibility="internal")
    drift = services.index_drift()
    assert drift == {"to_index": [public.pk], "to_remove": [going.pk]}

    services.index_reconcile()

    assert going.pk not in _ids("firmware steps", audience="internal")
    assert public.pk not in _ids("refund five days", audience="public")
    assert _ids("refund five days", audience="internal")[0] == public.pk


def test_many_drifted_articles_are_repaired_by_one_rebuild(reviewer, monkeypatch):
    monkeypatch.setattr(services, "RECONCILE_REBUILD_ABOVE", 2)
    services.index_rebuild()
    made = [
        make_article(author=reviewer, title=f"Setting number {n}", body=f"Menu item {n} text.")
        for n in range(3)
    ]
    assert services.index_reconcile()["action"] == "rebuild"
    assert set(_ids("setting number menu item")) == {a.pk for a in made}
