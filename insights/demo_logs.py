"""Seeded, reproducible support logs for demos and the suggestions benchmark.

From an eval dataset (corpus.jsonl, queries.jsonl, qrels.tsv, answers.jsonl) loaded as the KB:
withhold N gold articles (archive them, so search can't see them), then ask every dataset
question through `generation.services.answer_question`, from several simulated customers.
Questions whose gold article is withheld end up unanswered, disliked or escalated (an agent
replies with the dataset's reference answer); the others get mixed feedback. Some questions
carry personal data (e-mails, phone numbers, card numbers) for the redaction to remove.

This writes support rows directly through the ORM: it is demo-data generation, not a code
path of the product (the product writes them through support.services).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import random
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone

from knowledge import import_services, roles
from knowledge import services as kb
from knowledge.announcements import bulk_changes
from knowledge.audience import Audience
from knowledge.models import Article, ArticleStatus

logger = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]

PII_SUFFIXES = [
    " My email is jordan.miller{n}@example.com.",
    " Please call me back on +1 555 01{n:02d} 2345.",
    " I paid with card 4111 1111 1111 1111.",
    " Reach me at 07700 900{n:03d} or sam{n}@example.org.",
]
PREFIXES = ["", "Hi, ", "Hello, ", "", "Quick question: "]


@dataclass
class Dataset:
    corpus: dict[str, dict[str, str]]
    queries: dict[str, str]
    gold: dict[str, list[str]]  # query id -> relevant corpus ids, most relevant first
    answers: dict[str, str]


@dataclass
class SeedResult:
    withheld: list[str]  # corpus ids
    withheld_article_ids: list[int]
    interactions: int = 0
    interaction_query: dict[int, str] = field(default_factory=dict)  # interaction id -> query id
    outcomes: Counter = field(default_factory=Counter)

    def summary(self) -> dict[str, Any]:
        return {
            "withheld": self.withheld,
            "interactions": self.interactions,
            "outcomes": dict(self.outcomes),
        }


def load_dataset(path: Path | str) -> Dataset:
    """Read an eval dataset folder (the BEIR-like layout in shared/eval)."""
    root = Path(path)
    needed = ["corpus.jsonl", "queries.jsonl", "qrels.tsv"]
    missing = [name for name in needed if not (root / name).is_file()]
    if missing:
        raise ImproperlyConfigured(f"{root} is not an eval dataset: missing {', '.join(missing)}")

    def jsonl(name: str) -> list[dict]:
        with (root / name).open(encoding="utf-8") as fh:
            return [json.loads(line) for line in fh if line.strip()]

    corpus = {r["id"]: r for r in jsonl("corpus.jsonl")}
    queries = {r["id"]: r["text"] for r in jsonl("queries.jsonl")}
    scored: dict[str, list[tuple[int, str]]] = defaultdict(list)
    with (root / "qrels.tsv").open(encoding="utf-8") as fh:
        next(fh, None)  # header
        for line in fh:
            parts = line.rstrip("\n").split("\t")
            if len(parts) >= 3 and parts[2].strip().lstrip("-").isdigit() and int(parts[2]) > 0:
                scored[parts[0]].append((int(parts[2]), parts[1]))
    gold = {
        q: [c for _, c in sorted(pairs, key=lambda p: (-p[0], p[1]))] for q, pairs in scored.items()
    }
    answers = (
        {r["id"]: r["answer"] for r in jsonl("answers.jsonl")}
        if (root / "answers.jsonl").is_file()
        else {}
    )
    return Dataset(corpus=corpus, queries=queries, gold=gold, answers=answers)


def seed_user():
    """A reviewer account that owns the seeded changes (archiving needs the reviewer role)."""
    User = get_user_model()
    user, _ = User.objects.get_or_create(
        username="insights-seed", defaults={"email": "insights-seed@example.com"}
    )
    group, _ = Group.objects.get_or_create(name=roles.REVIEWER)
    user.groups.add(group)
    return user


def ensure_corpus_loaded(dataset_dir: Path | str, *, actor) -> int:
    """Import the dataset's corpus as published articles if it is not in the KB yet."""
    from django.conf import settings

    from knowledge import importers

    ds = load_dataset(dataset_dir)
    present = set(
        Article.objects.filter(external_id__in=list(ds.corpus)).values_list(
            "external_id", flat=True
        )
    )
    if len(present) == len(ds.corpus):
        return 0
    parsed = importers.parse_path(
        Path(dataset_dir) / "corpus.jsonl",
        fmt="jsonl",
        max_body_chars=settings.KB_MAX_ARTICLE_BODY_CHARS,
    )
    summary = import_services.articles_import(records=parsed.records, actor=actor, publish=True)
    return summary.created


def choose_withheld(ds: Dataset, n: int, *, seed: int = 0) -> list[str]:
    """N gold articles with at least two questions each (so there is something to cluster)."""
    per_article = Counter(golds[0] for golds in ds.gold.values() if golds)
    candidates = sorted(c for c, count in per_article.items() if count >= 2 and c in ds.corpus)
    rng = random.Random(seed)
    rng.shuffle(candidates)
    return sorted(candidates[:n])


def seed_demo_logs(
    *,
    dataset_dir: Path | str,
    withhold: int,
    seed: int = 0,
    days: int = 30,
    askers_withheld: int = 3,
    askers_other: tuple[int, int] = (1, 2),
    run_answers: bool = True,
    noise_dislike_rate: float = 0.15,
    now: dt.datetime | None = None,
    progress: Progress | None = None,
) -> SeedResult:
    """Withhold N gold articles, then log every dataset question as several customers."""
    from generation.services import answer_question
    from retrieval.services import index_rebuild
    from support.models import Conversation, Feedback, Interaction, Message, SearchLog

    progress = progress or (lambda stage, done, total: None)
    now = now or timezone.now()
    rng = random.Random(seed)
    ds = load_dataset(dataset_dir)
    actor = seed_user()
    withheld = choose_withheld(ds, withhold, seed=seed)
    # index_rebuild() below is the one index catch-up for the import and the archiving.
    with bulk_changes(announce=False):
        ensure_corpus_loaded(dataset_dir, actor=actor)
        articles = {
            a.external_id: a for a in Article.objects.filter(external_id__in=list(ds.corpus))
        }
        for cid in withheld:
            article = articles.get(cid)
            if article is not None and article.status != ArticleStatus.ARCHIVED:
                kb.article_archive(article=article, archived_by=actor)
    index_rebuild()
    result = SeedResult(
        withheld=withheld,
        withheld_article_ids=[articles[c].pk for c in withheld if c in articles],
    )
    withheld_set = set(withheld)
    query_ids = sorted(q for q in ds.queries if ds.gold.get(q))
    answers: dict[str, Any] = {}
    for done, qid in enumerate(query_ids, start=1):
        progress("answer questions", done, len(query_ids))
        text = ds.queries[qid]
        answers[qid] = answer_question(text, audience=Audience.PUBLIC) if run_answers else None

    session_no = 0
    for done, qid in enumerate(query_ids, start=1):
        progress("log interactions", done, len(query_ids))
        is_gap = ds.gold[qid][0] in withheld_set
        answer = answers[qid]
        n_askers = askers_withheld if is_gap else rng.randint(*askers_other)
        for _ in range(n_askers):
            session_no += 1
            text = rng.choice(PREFIXES) + ds.queries[qid]
            if rng.random() < 0.2:
                text += rng.choice(PII_SUFFIXES).format(n=session_no % 100)
            with transaction.atomic():
                _log_one(
                    result,
                    qid=qid,
                    text=text,
                    session=f"seed-{seed}-{session_no}",
                    answer=answer,
                    is_gap=is_gap,
                    reference=ds.answers.get(qid, ""),
                    when=now - dt.timedelta(days=rng.uniform(0, days)),
                    rng=rng,
                    noise_dislike_rate=noise_dislike_rate,
                    models=(Interaction, Feedback, Conversation, Message, SearchLog),
                )
    return result


def _log_one(
    result: SeedResult,
    *,
    qid: str,
    text: str,
    session: str,
    answer: Any,
    is_gap: bool,
    reference: str,
    when: dt.datetime,
    rng: random.Random,
    noise_dislike_rate: float,
    models: tuple,
) -> None:
    from support import triage_store

    Interaction, Feedback, Conversation, Message, SearchLog = models
    abstained = bool(answer.abstained) if answer is not None else is_gap
    triaged = triage_store.triage_text(text)  # as a live question is (per-intent metrics)
    interaction = Interaction.objects.create(
        question=text,
        session_key=session,
        audience=Audience.PUBLIC,
        intent=triaged.intent,
        language=triaged.language,
        handoff_reason=(answer.handoff_reason or "") if answer is not None else "",
        answer_text=answer.text if answer is not None else "",
        abstained=abstained,
        backend=answer.backend if answer is not None else "seed",
        confidence=float(answer.confidence) if answer is not None else 0.0,
        hits=list(answer.hits) if answer is not None else [],
        citations=[
            {"number": c.number, "article_id": c.article_id, "title": c.title}
            for c in (answer.citations if answer is not None else [])
        ],
    )
    cited = sorted({c.article_id for c in answer.citations}) if answer is not None else []
    if cited:
        interaction.cited_articles.set(list(cited))
    helpful: bool | None = None
    escalate = False
    if is_gap:
        # The KB cannot answer: customers dislike what they got, and half of them escalate.
        helpful = None if abstained else False
        escalate = rng.random() < 0.5
    elif abstained:
        escalate = rng.random() < 0.3
    else:
        # Answered from the KB: mostly liked, some disliked anyway (noise), some unrated.
        roll = rng.random()
        if roll < noise_dislike_rate:
            helpful = False
        elif roll < noise_dislike_rate + 0.15:
            helpful = None
        else:
            helpful = True
    if helpful is not None:
        Feedback.objects.create(interaction=interaction, helpful=helpful)
    if escalate:
        interaction.escalated = True
        interaction.save(update_fields=["escalated"])
        conversation = Conversation.objects.create(
            subject=text[:300], source_interaction=interaction, status="resolved"
        )
        Message.objects.create(conversation=conversation, role="customer", body=text)
        if reference:
            Message.objects.create(conversation=conversation, role="agent", body=reference)
    search = SearchLog.objects.create(
        query=text[:500],
        results_count=len(answer.hits) if answer is not None else 0,
    )
    SearchLog.objects.filter(pk=search.pk).update(created_at=when)
    Interaction.objects.filter(pk=interaction.pk).update(created_at=when)
    Feedback.objects.filter(interaction=interaction).update(created_at=when)
    result.interactions += 1
    result.interaction_query[interaction.pk] = qid
    outcome = (
        "escalated"
        if escalate
        else "abstained"
        if abstained
        else "disliked"
        if helpful is False
        else "answered"
    )
    result.outcomes[("gap_" if is_gap else "") + outcome] += 1
