"""Import/export: parsing problems are reported with file and line, re-imports update."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from knowledge import importers
from knowledge.models import Article, ArticleStatus, AuditLog, Revision

MAX = 200_000


def _jsonl(path: Path, rows: list) -> Path:
    lines = [r if isinstance(r, str) else json.dumps(r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _import(path: Path, *args: str) -> str:
    out = StringIO()
    call_command("import_kb", str(path), "--no-progress", *args, stdout=out, stderr=StringIO())
    return out.getvalue()


# --- plain parsing ---------------------------------------------------------------------------


def test_malformed_json_line_reported_with_line_number_and_skipped(tmp_path):
    path = _jsonl(
        tmp_path / "kb.jsonl",
        [
            {"id": "a", "title": "Pair the remote", "text": "Hold the buttons."},
            '{"id": "b", "title": broken',
            {"id": "c", "title": "Update software", "text": "Open Settings."},
        ],
    )
    result = importers.parse_path(path, max_body_chars=MAX)
    assert [r.external_id for r in result.records] == ["a", "c"]
    assert len(result.problems) == 1
    assert result.problems[0].source == "kb.jsonl:2"
    assert "invalid JSON" in result.problems[0].reason


def test_empty_title_and_huge_record_skipped_with_reasons(tmp_path):
    path = _jsonl(
        tmp_path / "kb.jsonl",
        [
            {"id": "a", "title": "  ", "text": "Body"},
            {"id": "b", "title": "Huge", "text": "x" * 5001},
            {"id": "c", "title": "Fine", "text": "ok"},
            {"id": "d", "title": "Empty text", "text": ""},
            {"id": "c", "title": "Repeat", "text": "again"},
        ],
    )
    result = importers.parse_path(path, max_body_chars=5000)
    assert [r.external_id for r in result.records] == ["c"]
    reasons = {p.source: p.reason for p in result.problems}
    assert reasons["kb.jsonl:1"] == "empty title"
    assert "5,001 characters" in reasons["kb.jsonl:2"]
    assert reasons["kb.jsonl:4"] == "empty text"
    assert "repeats the record at kb.jsonl:3" in reasons["kb.jsonl:5"]


def test_absurdly_long_json_line_refused_before_parsing(tmp_path):
    huge = json.dumps({"id": "h", "title": "Huge", "text": "x" * 60_000})
    path = _jsonl(tmp_path / "kb.jsonl", [huge, {"id": "ok", "title": "Ok", "text": "fine"}])
    result = importers.parse_path(path, max_body_chars=10_000)
    assert [r.external_id for r in result.records] == ["ok"]
    assert result.problems[0].source == "kb.jsonl:1"
    assert "too large" in result.problems[0].reason


def test_front_matter_parsing_errors_name_file_and_line(tmp_path):
    (tmp_path / "good.md").write_text(
        "---\ntitle: Reset your PIN\ntags: [pin, security]\nvisibility: internal\nid: kb-7\n"
        "---\nPress **Menu**.\n"
    )
    (tmp_path / "bad_yaml.md").write_text("---\ntitle: ok\ntags: [unclosed\n---\nBody\n")
    (tmp_path / "unclosed.md").write_text("---\ntitle: Never closed\nBody\n")
    (tmp_path / "list.md").write_text("---\n- a\n- b\n---\nBody\n")
    (tmp_path / "h1.md").write_text("# Title from heading\n\nText under it.\n")
    result = importers.parse_path(tmp_path, max_body_chars=MAX)
    by_id = {r.external_id: r for r in result.records}
    assert by_id["kb-7"].title == "Reset your PIN"
    assert by_id["kb-7"].tags == ["pin", "security"]
    assert by_id["kb-7"].visibility == "internal"
    assert by_id["h1.md"].title == "Title from heading"
    assert by_id["h1.md"].body == "Text under it."
    problems = {p.source.split(":")[0]: p for p in result.problems}
    assert set(problems) == {"bad_yaml.md", "unclosed.md", "list.md"}
    assert "not valid YAML" in problems["bad_yaml.md"].reason
    assert problems["bad_yaml.md"].source in {"bad_yaml.md:3", "bad_yaml.md:4"}
    assert "never closed" in problems["unclosed.md"].reason
    assert "mapping" in problems["list.md"].reason


def test_html_export_keeps_headings_lists_and_drops_scripts(tmp_path):
    (tmp_path / "help.html").write_text(
        "<html><head><title>Fallback</title></head><body><nav>Menu</nav>"
        "<h1>Connect to Wi-Fi</h1><p>Open <b>Settings</b>.</p><h2>Steps</h2>"
        "<ol><li>Choose Network</li><li>Pick your network</li></ol>"
        "<script>alert(1)</script></body></html>"
    )
    (tmp_path / "multi.html").write_text(
        '<article id="faq-1"><h2>Return a TV</h2><ul><li>Keep the box</li></ul></article>'
        '<article id="faq-2"><h2>Warranty</h2><p>Two years.</p></article>'
    )
    result = importers.parse_path(tmp_path, fmt="html", max_body_chars=MAX)
    by_title = {r.title: r for r in result.records}
    assert set(by_title) == {"Connect to Wi-Fi", "Return a TV", "Warranty"}
    body = by_title["Connect to Wi-Fi"].body
    assert "Open **Settings**." in body
    assert "## Steps" in body
    assert "1. Choose Network\n2. Pick your network" in body
    assert "alert" not in body and "Menu" not in body
    assert by_title["Return a TV"].external_id == "faq-1"
    assert by_title["Return a TV"].body == "- Keep the box"


def test_unknown_path_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match="does not exist"):
        _import(tmp_path / "nope.jsonl")


# --- writing -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_import_then_export_round_trip(tmp_path):
    rows = [
        {"id": "r1", "title": "Pair the remote", "text": "Hold **Back** and Play.",
         "category": "Remote", "tags": ["remote", "pairing"]},
        {"id": "r2", "title": "Refund escalation", "text": "Escalate after 30 days.",
         "visibility": "internal"},
    ]  # fmt: skip
    src = _jsonl(tmp_path / "in.jsonl", rows)
    out = _import(src)
    assert "created 2, updated 0, unchanged 0, skipped 0" in out
    assert Article.objects.filter(status=ArticleStatus.PUBLISHED).count() == 2

    public = tmp_path / "public.jsonl"
    call_command("export_kb", str(public), stdout=StringIO())
    exported = [json.loads(line) for line in public.read_text().splitlines()]
    assert [r["id"] for r in exported] == ["r1"]  # internal stays out by default
    assert exported[0]["text"] == rows[0]["text"]
    assert exported[0]["category"] == "Remote"
    assert exported[0]["tags"] == ["pairing", "remote"]

    everything = tmp_path / "all.jsonl"
    call_command("export_kb", str(everything), "--include-internal", stdout=StringIO())
    exported = [json.loads(line) for line in everything.read_text().splitlines()]
    assert {r["id"]: r["visibility"] for r in exported} == {"r1": "public", "r2": "internal"}
    # Exported file imports back as "unchanged": the formats match.
    assert "created 0, updated 0, unchanged 2" in _import(everything)


@pytest.mark.django_db
def test_reimport_updates_by_id_and_adds_revision_only_when_text_changed(tmp_path):
    src = _jsonl(tmp_path / "kb.jsonl", [{"id": "x", "title": "Update", "text": "v1"}])
    _import(src)
    article = Article.objects.get(external_id="x")
    assert "unchanged 1" in _import(src)
    assert Revision.objects.filter(article=article).count() == 1

    _jsonl(src, [{"id": "x", "title": "Update", "text": "v2"}])
    assert "updated 1" in _import(src)
    article.refresh_from_db()
    assert Article.objects.count() == 1
    assert article.revisions.count() == 2
    assert article.published_revision.body == "v2"


@pytest.mark.django_db
def test_dry_run_writes_nothing(tmp_path):
    src = _jsonl(tmp_path / "kb.jsonl", [{"id": "x", "title": "T", "text": "b"}, "{oops"])
    out = _import(src, "--dry-run")
    assert "Dry run" in out and "would have created 1" in out
    assert "kb.jsonl:2" in out
    assert Article.objects.count() == 0
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db
def test_import_writes_one_audit_entry_with_counts(tmp_path):
    src = _jsonl(
        tmp_path / "kb.jsonl",
        [{"id": "a", "title": "A", "text": "a"}, {"id": "b", "title": "", "text": "b"}],
    )
    _import(src, "--draft", "--category", "General")
    entry = AuditLog.objects.get(action="import")
    assert entry.detail["created"] == 1
    assert entry.detail["skipped"] == 1
    assert entry.detail["publish"] is False
    article = Article.objects.get(external_id="a")
    assert article.status == ArticleStatus.DRAFT
    assert article.category.name == "General"


def _fail_third_article_insert() -> None:
    """A real database error on the third article insert (a trigger), not a mocked service."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "CREATE TRIGGER kb_fail_third BEFORE INSERT ON knowledge_article "
                "WHEN (SELECT count(*) FROM knowledge_article) >= 2 "
                "BEGIN SELECT RAISE(ABORT, 'disk full'); END"
            )
        else:
            cursor.execute(
                "CREATE FUNCTION kb_fail_third() RETURNS trigger AS $$ BEGIN "
                "IF (SELECT count(*) FROM knowledge_article) >= 2 THEN "
                "RAISE EXCEPTION 'disk full'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER kb_fail_third BEFORE INSERT ON knowledge_article "
                "FOR EACH ROW EXECUTE FUNCTION kb_fail_third()"
            )


@pytest.mark.django_db
def test_database_failure_midway_leaves_nothing(tmp_path):
    rows = [{"id": f"id{i}", "title": f"Article {i}", "text": "text"} for i in range(5)]
    src = _jsonl(tmp_path / "kb.jsonl", rows)
    _fail_third_article_insert()
    with pytest.raises(CommandError, match="nothing was imported"):
        _import(src)
    assert Article.objects.count() == 0
    assert AuditLog.objects.count() == 0


@pytest.mark.django_db
def test_markdown_folder_import_uses_front_matter(tmp_path):
    (tmp_path / "refund.md").write_text(
        "---\ntitle: 'Internal: refund escalation'\nslug: refund-escalation\n"
        "category: Billing\nvisibility: internal\nid: kb-refund\n---\n## When\n\nAfter 30 days.\n"
    )
    _import(tmp_path)
    article = Article.objects.get(external_id="kb-refund")
    assert article.slug == "refund-escalation"
    assert article.visibility == "internal"
    assert article.category.name == "Billing"
    assert article.published_revision.body.startswith("## When")


@pytest.mark.django_db
def test_import_attributed_to_user_and_bom_tolerated(tmp_path, editor, agent):
    src = tmp_path / "kb.jsonl"
    src.write_bytes(b"\xef\xbb\xbf" + json.dumps({"id": "a", "title": "A", "text": "a"}).encode())
    with pytest.raises(CommandError, match="not an editor"):
        _import(src, "--user", agent.username)
    with pytest.raises(CommandError, match="No user named"):
        _import(src, "--user", "nobody")
    with pytest.raises(CommandError, match="may not publish"):
        _import(src, "--user", editor.username)
    assert "created 1" in _import(src, "--user", editor.username, "--draft")
    assert AuditLog.objects.get(action="import").actor == editor
    assert Article.objects.get(external_id="a").owner == editor
