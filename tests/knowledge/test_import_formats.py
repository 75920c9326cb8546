"""The import format contract: every registered format reads its sample into the same
record, is detected from a file and from a folder, and is offered by the upload form and
`import_kb --format`."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge import importers
from knowledge.forms import ImportForm

MAX = 200_000

# One sample per registered format: the same article, with a category and two tags.
SAMPLES = {
    "jsonl": (
        "kb.jsonl",
        '{"id": "pair-1", "title": "Pair the remote", "text": "Hold **Home** for 3 seconds.",'
        ' "category": "Remotes", "tags": ["pairing", "remote"]}\n',
    ),
    "markdown": (
        "pair.md",
        "---\nid: pair-1\ntitle: Pair the remote\ncategory: Remotes\ntags: [pairing, remote]\n"
        "---\nHold **Home** for 3 seconds.\n",
    ),
    "html": (
        "pair.html",
        '<html><body><article data-id="pair-1" data-category="Remotes" '
        'data-tags="pairing, remote"><h1>Pair the remote</h1>'
        "<p>Hold <strong>Home</strong> for 3 seconds.</p></article></body></html>",
    ),
}


def test_every_registered_format_has_a_contract_sample():
    assert set(SAMPLES) == set(importers.IMPORT_FORMATS)


def _write(tmp_path: Path, fmt: str) -> Path:
    name, text = SAMPLES[fmt]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("fmt", sorted(importers.IMPORT_FORMATS))
def test_format_reads_its_sample_into_the_same_record(tmp_path, fmt):
    result = importers.parse_path(_write(tmp_path, fmt), fmt=fmt, max_body_chars=MAX)
    assert result.problems == []
    [record] = result.records
    assert (record.external_id, record.title) == ("pair-1", "Pair the remote")
    assert record.body == "Hold **Home** for 3 seconds."
    assert (record.category, sorted(record.tags)) == ("Remotes", ["pairing", "remote"])
    assert record.source.startswith(SAMPLES[fmt][0])


@pytest.mark.parametrize("fmt", sorted(importers.IMPORT_FORMATS))
def test_format_is_detected_from_a_file_and_a_folder(tmp_path, fmt):
    path = _write(tmp_path, fmt)
    assert importers.detect_format(path) == fmt
    assert importers.detect_format(tmp_path) == fmt
    assert [r.title for r in importers.parse_path(tmp_path, max_body_chars=MAX).records] == [
        "Pair the remote"
    ]


@pytest.mark.parametrize("fmt", sorted(importers.IMPORT_FORMATS))
def test_format_is_offered_for_uploads_and_the_command(fmt):
    assert fmt in dict(ImportForm().fields["format"].choices)
    assert fmt in importers.FORMATS
    assert set(importers.IMPORT_FORMATS[fmt].folder_suffixes) <= set(importers.UPLOAD_SUFFIXES)


def test_unknown_format_names_the_registered_ones(tmp_path):
    path = _write(tmp_path, "jsonl")
    with pytest.raises(importers.ImportFormatError, match="use one of jsonl, markdown, html"):
        importers.parse_path(path, fmt="docx", max_body_chars=MAX)


def test_a_folder_of_markdown_with_an_html_page_reads_as_markdown(tmp_path):
    _write(tmp_path, "markdown")
    _write(tmp_path, "html")
    assert importers.detect_format(tmp_path) == "markdown"
