"""The second ranking stage and the cleaned chunk text, through the services."""

from __future__ import annotations

import json

import pytest

from knowledge.normalize import build_lexicon
from retrieval import rescoring, services
from retrieval.models import Chunk
from retrieval.snapshot import ChunkMeta
from tests.factories import make_article
from tests.retrieval.order_models import title_last_order_model


def _meta(chunk_id: int, article_id: int, title: str, text: str, vis: str = "public"):
    return ChunkMeta(chunk_id, article_id, title, title.lower(), vis, "", text, 0)


CHUNKS = {
    1: _meta(1, 1, "Setting the sleep timer", "The TV turns itself off after a set time."),
    2: _meta(2, 2, "Pairing the remote", "Hold Back and Play for three seconds."),
    3: _meta(3, 3, "Internal: timer escalations", "sleep timer refunds", vis="internal"),
}


def test_field_features_see_title_words_and_missing_terms() -> None:
    stats = rescoring.ArticleStats(CHUNKS, public_only=True)
    assert 3 not in stats.terms  # public statistics never include internal text
    cands = [
        rescoring.Candidate(1, [1], lexical=2.0, dense=0.5, lexical_rank=0, dense_rank=1),
        rescoring.Candidate(2, [2], lexical=1.0, dense=0.6, lexical_rank=1, dense_rank=0),
    ]
    timer, remote = rescoring.features("how do I set the sleep timer", cands, stats)
    assert timer["title_cov"] == 1.0 and remote["title_cov"] == 0.0
    assert timer["missing_idf"] == 0.0 and remote["missing_idf"] == 1.0
    assert timer["lexical_rel"] == 1.0 and remote["lexical_rel"] == 0.5
    assert remote["dense_rel"] == 0.0 and timer["dense_rel"] < 0
    assert set(timer) == set(rescoring.FEATURES)


def test_ranking_signals_say_how_much_of_the_question_the_kb_holds() -> None:
    stats = rescoring.ArticleStats(CHUNKS, public_only=True)
    cands = [
        rescoring.Candidate(1, [1], lexical=2.0, dense=0.5, lexical_rank=0, dense_rank=1),
        rescoring.Candidate(2, [2], lexical=1.0, dense=0.6, lexical_rank=1, dense_rank=0),
    ]
    stage = rescoring.FeatureRescorer(stats)
    _, rows = stage.rerank_with_features("sleep timer", cands)
    assert set(rows) == {1, 2} and set(rows[1]) == set(rescoring.FEATURES)
    clear = rescoring.ranking_signals("sleep timer", [(1, 4.0), (2, -4.0)], stats, rows[1])
    assert clear["top_logit"] == 4.0 and clear["margin"] == 8.0
    assert clear["top_softmax"] > 0.99 and clear["logit_entropy"] < 0.01
    assert clear["unknown_term_idf"] == 0.0 and clear["rarest_term_in_top"] == 1.0
    assert clear["title_cov"] == 1.0  # the top article's own features come along
    # "refunds" is only in the internal article: public statistics do not know the word.
    lacking = rescoring.ranking_signals("sleep timer refunds", [(1, 0.1), (2, 0.0)], stats, None)
    assert 0.0 < lacking["unknown_term_idf"] < 1.0
    assert lacking["rarest_term_in_top"] == 0.0  # the rarest word is the unknown one
    assert lacking["top3_body_cov"] == lacking["top5_body_cov"] < 1.0
    assert 0.5 < lacking["top_softmax"] < 0.6 and lacking["logit_entropy"] > 0.6
    assert rescoring.ranking_signals("sleep timer", [], stats, rows[1]) == {}


def test_linear_weights_order_candidates_and_round_trip(tmp_path) -> None:
    weights = rescoring.LinearWeights(
        names=("title_cov", "dense_rel"),
        mean=(0.0, 0.0),
        scale=(1.0, 1.0),
        coef=(2.0, 0.1),
        intercept=0.0,
    )
    assert rescoring.LinearWeights.from_dict(weights.to_dict()) == weights
    stats = rescoring.ArticleStats(CHUNKS, public_only=True)
    cands = [
        rescoring.Candidate(2, [2], lexical=1.0, dense=0.6, lexical_rank=0, dense_rank=0),
        rescoring.Candidate(1, [1], lexical=0.9, dense=0.5, lexical_rank=1, dense_rank=1),
    ]
    order = rescoring.FeatureRescorer(stats, weights).rerank("sleep timer", cands)
    assert [a for a, _ in order] == [1, 2]  # the title match wins over the first stage
    # The shipped weights load and cover every feature they name.
    shipped = rescoring.load_weights()
    assert set(shipped.names) <= set(rescoring.FEATURES)


def _ranking_problem(seed: int = 0):
    """Random candidate rows per question whose relevant row depends non-linearly on two
    features (an interaction no linear model orders right)."""
    import numpy as np

    rng = np.random.default_rng(seed)
    names = ("title_cov", "body_cov", "dense_rel")
    x = rng.random((600, 3))
    y = ((x[:, 0] > 0.5) ^ (x[:, 1] > 0.5)).astype(int) * 2
    return names, x, y, [6] * 100


def test_flattened_lightgbm_trees_score_exactly_as_lightgbm_does() -> None:
    lightgbm = pytest.importorskip("lightgbm")  # a dev dependency: the fit's, not the server's
    names, x, y, groups = _ranking_problem()
    model = lightgbm.LGBMRanker(n_estimators=40, num_leaves=5, verbose=-1, deterministic=True)
    model.fit(x, y, group=groups, feature_name=list(names))
    trees = rescoring.BoostedTrees.from_lightgbm_dump(model.booster_.dump_model())
    rows = [dict(zip(names, row, strict=True)) for row in x]
    assert trees.names == names and trees.depth >= 2
    gaps = [abs(a - b) for a, b in zip(trees.scores(rows), model.booster_.predict(x), strict=True)]
    assert max(gaps) < 1e-9
    again = rescoring.BoostedTrees.from_dict(json.loads(json.dumps(trees.to_dict())))
    assert again.scores(rows[:50]) == trees.scores(rows[:50])
    assert trees.scores([]) == []
    # A row without a feature reads it as 0.0, as the linear model does.
    assert trees.scores([{"title_cov": 0.0, "body_cov": 0.0, "dense_rel": 0.0}]) == trees.scores(
        [{}]
    )


def test_trees_the_evaluator_cannot_replay_are_refused() -> None:
    leaf = {"leaf_value": 1.0}
    categorical = {
        "split_feature": 0,
        "threshold": "1||2",
        "decision_type": "==",
        "missing_type": "None",
        "left_child": leaf,
        "right_child": leaf,
    }
    missing = {**categorical, "threshold": 0.5, "decision_type": "<=", "missing_type": "NaN"}
    for node in (categorical, missing):
        dump = {"feature_names": ["title_cov"], "tree_info": [{"tree_structure": node}]}
        with pytest.raises(ValueError, match="unsupported split"):
            rescoring.BoostedTrees.from_lightgbm_dump(dump)
    single_leaf = {"feature_names": ["title_cov"], "tree_info": [{"tree_structure": leaf}]}
    assert rescoring.BoostedTrees.from_lightgbm_dump(single_leaf).scores([{}]) == [1.0]


def test_the_trees_order_the_candidates_and_the_linear_logit_stays_their_score() -> None:
    stats = rescoring.ArticleStats(CHUNKS, public_only=True)
    cands = [
        rescoring.Candidate(2, [2], lexical=1.0, dense=0.6, lexical_rank=0, dense_rank=0),
        rescoring.Candidate(1, [1], lexical=0.9, dense=0.5, lexical_rank=1, dense_rank=1),
    ]
    title_first = rescoring.LinearWeights(("title_cov",), (0.0,), (1.0,), (2.0,), 0.0)
    # One stump: a candidate with no title match scores 1, one with a title match 0.
    stump = title_last_order_model()
    linear = rescoring.FeatureRescorer(stats, title_first).rerank("sleep timer", cands)
    trees = rescoring.FeatureRescorer(stats, title_first, order=stump).rerank("sleep timer", cands)
    assert [a for a, _ in linear] == [1, 2]
    assert [a for a, _ in trees] == [2, 1]  # the trees decide the order ...
    assert dict(trees) == dict(linear)  # ... and each article keeps its calibrated logit
    shipped = rescoring.load_order_model()
    assert shipped.names == rescoring.FEATURES and len(shipped.roots) >= 100


@pytest.mark.django_db
def test_rescore_order_setting_reaches_the_search(admin_user, settings, monkeypatch) -> None:
    make_article(author=admin_user, title="Setting the sleep timer", body="The TV turns off.")
    make_article(author=admin_user, title="Pairing the remote", body="Hold Back and Play.")
    services.index_rebuild()
    shipped = services.search("sleep timer", audience="public")
    assert services.fusion_params().rescore_order == "lambdarank"
    assert shipped.hits[0].title == "Setting the sleep timer"
    # The search really orders by the trees it loads: a model that prefers title misses
    # flips the result, and the linear setting ignores the trees.
    monkeypatch.setattr(rescoring, "load_order_model", title_last_order_model)
    flipped = services.search("sleep timer", audience="public")
    assert flipped.hits[0].title == "Pairing the remote"
    settings.RESCORE_ORDER_MODEL = "linear"
    assert services.fusion_params().rescore_order == "linear"
    linear = services.search("sleep timer", audience="public")
    assert linear.hits[0].title == "Setting the sleep timer"


@pytest.mark.django_db
def test_default_search_mode_rescores_and_reports_its_signals(admin_user, settings) -> None:
    assert settings.SEARCH_MODE == "hybrid+rescore"
    make_article(author=admin_user, title="Setting the sleep timer", body="The TV turns off.")
    make_article(author=admin_user, title="Pairing the remote", body="Hold Back and Play.")
    services.index_rebuild()
    result = services.search("sleep timer", audience="public")
    assert result.mode == "hybrid+rescore"
    assert result.hits[0].title == "Setting the sleep timer"
    assert {"top_logit", "margin", "title_cov", "body_cov"} <= set(result.signals)
    plain = services.search("sleep timer", audience="public", mode="hybrid")
    assert plain.signals == {}


@pytest.mark.django_db
def test_chunks_carry_the_cleaned_text_and_the_revision_keeps_the_original(admin_user):
    body = (
        "Settings General System Manager Time Sleep Timer Try Now You can turn the TV off "
        "after a preset time. - 88 -"
    )
    others = [
        ("Clock", "Settings General System Manager Time Clock Try Now Set the clock."),
        ("Language", "Settings General System Manager Language Try Now Pick one."),
    ]
    article = make_article(author=admin_user, title="Sleep timer", body=body)
    for title, text in others:
        make_article(author=admin_user, title=title, body=text)
    services.index_rebuild()
    chunk = Chunk.objects.get(article=article)
    assert chunk.text.startswith("Settings > General > System Manager > Time > Sleep Timer.")
    assert "Try Now" not in chunk.text and "88" not in chunk.text
    article.refresh_from_db()
    assert article.published_revision.body == body
    stored = json.loads((settings_index_dir() / services.LEXICON_FILE).read_text())
    assert stored["roots"] == ["General"]
    assert build_lexicon([("Sleep timer", body), *others]).roots == {"General"}


def settings_index_dir():
    from pathlib import Path

    from django.conf import settings

    return Path(settings.INDEX_DIR)


def test_an_ordering_model_file_that_is_not_one_is_refused_with_what_is_wrong() -> None:
    good = title_last_order_model().to_dict()
    assert rescoring.BoostedTrees.from_dict(good).scores([{"title_cov": 1.0}]) == [0.0]
    broken = {
        "another kind": {**good, "kind": "linear"},
        "no kind": {k: v for k, v in good.items() if k != "kind"},
        "truncated": {**good, "value": good["value"][:-1]},
        "dangling child": {**good, "left": [7, 1, 2]},
        "no trees": {**good, "roots": []},
        "unnamed feature": {**good, "feature": [3, -1, -1]},
    }
    messages = {
        "another kind": "not a boosted-trees",
        "no kind": "not a boosted-trees",
        "truncated": "do not line up",
        "dangling child": "'left' points outside",
        "no trees": "do not line up",
        "unnamed feature": "does not name",
    }
    for name, data in broken.items():
        with pytest.raises(ValueError, match=messages[name]):
            rescoring.BoostedTrees.from_dict(data)


def test_system_check_reports_an_unloadable_ordering_model(settings, monkeypatch) -> None:
    from retrieval import checks

    assert checks.second_stage_models() == []  # the shipped files load
    monkeypatch.setattr(
        rescoring, "load_order_model", lambda: rescoring.BoostedTrees.from_dict({"kind": "x"})
    )
    [error] = checks.second_stage_models()
    assert error.id == "retrieval.E002" and "not a boosted-trees" in error.msg
    settings.RESCORE_ORDER_MODEL = "linear"  # the linear order never reads the trees
    assert checks.second_stage_models() == []
    settings.RESCORE_ORDER_MODEL = "lambdarank"
    stale = rescoring.BoostedTrees.from_dict(
        {**title_last_order_model().to_dict(), "names": ["gone"]}
    )
    monkeypatch.setattr(rescoring, "load_order_model", lambda: stale)
    [warning] = checks.second_stage_models()
    assert warning.id == "retrieval.W001" and "gone" in warning.msg
