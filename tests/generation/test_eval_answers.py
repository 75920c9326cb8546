"""`manage.py eval_answers`: a scratch KB from a dataset, answered as the portal would."""

from __future__ import annotations

import json

import pytest
from django.core.management import CommandError, call_command

from knowledge.models import Article

pytestmark = pytest.mark.django_db

CORPUS = [
    {
        "id": "d1",
        "title": "Setting the sleep timer",
        "text": "Settings General System Manager Time Sleep Timer Try Now You can turn the TV off "
        "after a preset time. - 12 -",
    },
    {
        "id": "d2",
        "title": "Setting the clock",
        "text": "Settings General System Manager Time Clock Try Now You can set the clock.",
    },
    {
        "id": "d3",
        "title": "Changing the language",
        "text": "Settings General System Manager Language Try Now You can change the language.",
    },
]


def _dataset(tmp_path, corpus_lines, queries):
    (tmp_path / "corpus.jsonl").write_text("\n".join(corpus_lines) + "\n")
    (tmp_path / "queries.jsonl").write_text("\n".join(json.dumps(q) for q in queries) + "\n")
    return tmp_path


def test_records_every_question_and_reports_bad_corpus_lines(tmp_path, capsys, settings):
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.0
    lines = [json.dumps(d) for d in CORPUS] + ['{"id": "d4", "title": "no text"}', "{not json"]
    folder = _dataset(
        tmp_path,
        lines,
        [
            {"id": "q1", "text": "How do I set the sleep timer?"},
            {"id": "q2", "text": "🙂🙂🙂"},
            {"id": "q3", "text": "x " * 1000},
        ],
    )
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\nq1\td1\t2\n")
    out = tmp_path / "out.json"
    call_command("eval_answers", dataset=str(folder), json_out=str(out), no_progress=True)
    err = capsys.readouterr()
    assert "corpus.jsonl line 4: no text" in err.err
    assert "corpus.jsonl line 5: invalid JSON" in err.err
    assert "hit@1: 1.000" in err.out
    report = json.loads(out.read_text())
    assert [r["query_id"] for r in report["records"]] == ["q1", "q2", "q3"]
    first = report["records"][0]
    assert first["ranked_article_ids"][0] == "d1"
    assert first["cited_article_ids"] == ["d1"]
    assert "Settings > General > System Manager > Time > Sleep Timer" in first["answer_text"]
    assert "Try Now" not in first["answer_text"]
    for record in report["records"]:
        assert set(record) >= {
            "answer_text",
            "abstained",
            "handoff_reason",
            "cited_article_ids",
            "ranked_article_ids",
            "confidence",
            "grounding_score",
            "backend",
            "fallback_reason",
        }
    assert report["settings"]["SEARCH_MODE"] == "hybrid+rescore"
    assert report["settings"]["RESCORE_ORDER_MODEL"] == "lambdarank"
    assert Article.objects.count() == 0  # the real KB is untouched


def test_a_folder_without_a_corpus_is_a_clear_error(tmp_path):
    with pytest.raises(CommandError, match=r"corpus\.jsonl is missing"):
        call_command("eval_answers", dataset=str(tmp_path), json_out=str(tmp_path / "o.json"))
