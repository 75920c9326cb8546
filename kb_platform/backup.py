"""Backups of the whole KB: the database (portable JSON, plus pg_dump on PostgreSQL) and the
current search-index version, with a manifest of counts and checksums; and their restore
into an empty database. Called by `manage.py backup_kb` / `restore_kb`.

The JSON dump (dumpdata with natural keys) restores into any database engine; the pg_dump
file is for PostgreSQL-native restores (`pg_restore`), kept beside it. The index is derived
data: restored when it matches the restored chunks and the configured embedding model,
rebuilt from the database otherwise.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

logger = logging.getLogger(__name__)

FORMAT = 1
DB_JSON = "db.json"
PG_DUMP = "db.pgdump"
INDEX = "index"
MANIFEST = "backup.json"
# Rebuilt by migrate, or ephemeral: never part of a backup.
EXCLUDE = ["contenttypes", "auth.permission", "sessions", "admin.logentry"]
# Tables whose rows must survive a round trip (counted in the manifest and checked).
COUNTED = [
    "auth.user",
    "auth.group",
    "knowledge.article",
    "knowledge.revision",
    "knowledge.category",
    "knowledge.tag",
    "knowledge.auditlog",
    "retrieval.chunk",
    "support.conversation",
    "support.message",
    "support.interaction",
    "support.feedback",
    "support.articleflag",
    "insights.suggestion",
]


class BackupError(Exception):
    pass


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def model_counts() -> dict[str, int]:
    """Row counts of the tables a backup must carry."""
    counts = {}
    for label in COUNTED:
        try:
            model = apps.get_model(label)
        except LookupError:
            continue
        counts[label] = model.objects.count()
    return counts


def _pg_dump_binary() -> str | None:
    found = shutil.which("pg_dump")
    if found:
        return found
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_dump"))
    return str(candidates[-1]) if candidates else None


def _pg_dump(out: Path) -> str:
    """pg_dump -Fc of the current database; returns a note when it could not run."""
    binary = _pg_dump_binary()
    if binary is None:
        return "pg_dump not found"
    db = connection.settings_dict
    env = dict(os.environ)
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    cmd = [binary, "-Fc", "--no-owner", "-f", str(out), "-d", db["NAME"]]
    if db.get("HOST"):
        cmd += ["-h", db["HOST"]]
    if db.get("PORT"):
        cmd += ["-p", str(db["PORT"])]
    if db.get("USER"):
        cmd += ["-U", db["USER"]]
    result = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=3600)
    if result.returncode != 0:
        out.unlink(missing_ok=True)
        return f"pg_dump failed: {result.stderr.strip()[:500]}"
    return "ok"


def _copy_index(dest: Path) -> dict | None:
    """The current index version, through retrieval's public API (None: none published)."""
    from retrieval import services as retrieval

    return retrieval.index_export(dest)


def backup_create(out_dir: Path, *, log: Callable[[str], None] = logger.info) -> dict:
    """Write a backup into `out_dir` (created; must be empty) and return its manifest.

    Everything is private to the owner (folder 0700, files 0600): the dump holds password
    hashes, API tokens and internal articles.
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise BackupError(f"{out_dir} is not empty: choose a new folder for the backup")
    old_umask = os.umask(0o077)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        out_dir.chmod(0o700)
        manifest = _backup_write(out_dir, log=log)
    finally:
        os.umask(old_umask)
    for path in out_dir.rglob("*"):  # copied index files keep their source's mode: tighten
        path.chmod(0o700 if path.is_dir() else 0o600)
    return manifest


def _backup_write(out_dir: Path, *, log: Callable[[str], None]) -> dict:
    started = timezone.now()
    counts = model_counts()
    db_json = out_dir / DB_JSON
    tmp = out_dir / (DB_JSON + ".tmp")
    call_command(
        "dumpdata",
        exclude=EXCLUDE,
        natural_foreign=True,
        natural_primary=True,
        output=str(tmp),
        verbosity=0,
    )
    tmp.replace(db_json)
    log(f"database: {db_json} ({db_json.stat().st_size:,} bytes)")
    files = {DB_JSON: _sha256(db_json)}
    pg_note = "not PostgreSQL"
    if connection.vendor == "postgresql":
        pg_note = _pg_dump(out_dir / PG_DUMP)
        if pg_note == "ok":
            files[PG_DUMP] = _sha256(out_dir / PG_DUMP)
        log(f"pg_dump: {pg_note}")
    index_manifest = _copy_index(out_dir / INDEX)
    if index_manifest:
        for path in sorted((out_dir / INDEX).rglob("*")):
            if path.is_file():
                files[str(path.relative_to(out_dir))] = _sha256(path)
        log(f"index: version {index_manifest['version']}")
    else:
        log("index: none published (the restore will rebuild it)")
    manifest = {
        "format": FORMAT,
        "created_at": started.isoformat(),
        "database_vendor": connection.vendor,
        "counts": counts,
        "pg_dump": pg_note,
        "index_version": index_manifest["version"] if index_manifest else None,
        "index_model_id": index_manifest.get("model_id") if index_manifest else None,
        "files": files,
    }
    (out_dir / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def _verify_files(in_dir: Path, manifest: dict) -> None:
    for name, digest in manifest["files"].items():
        path = in_dir / name
        if not path.is_file():
            raise BackupError(f"the backup is incomplete: {name} is missing")
        if _sha256(path) != digest:
            raise BackupError(f"the backup is damaged: {name} does not match its checksum")


def _database_is_empty() -> bool:
    return all(n == 0 for n in model_counts().values())


def _restore_index(in_dir: Path, manifest: dict) -> str:
    """Put the backed-up index in place if it fits the restored chunks; else rebuild."""
    from retrieval import services as retrieval
    from retrieval.embedding import get_embedder

    src = in_dir / INDEX
    if src.is_dir() and manifest.get("index_model_id") == get_embedder().model_id:
        version = retrieval.index_import(src)
        if version is not None:
            return f"restored version {version}"
    stats = retrieval.index_rebuild()
    return f"rebuilt from the database (version {stats['version']})"


def backup_restore(
    in_dir: Path, *, rebuild_index: bool = False, log: Callable[[str], None] = logger.info
) -> dict:
    """Load a backup into an empty (migrated) database; then restore or rebuild the index."""
    in_dir = Path(in_dir)
    try:
        manifest = json.loads((in_dir / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise BackupError(f"{in_dir} has no {MANIFEST}: not a KB backup") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"unsupported backup format {manifest.get('format')!r}")
    _verify_files(in_dir, manifest)
    if not _database_is_empty():
        raise BackupError(
            "the database already has data: restore into an empty database "
            "(create it and run `manage.py migrate` first)"
        )
    call_command("loaddata", str(in_dir / DB_JSON), verbosity=0)
    counts = model_counts()
    missing = {
        label: (expected, counts.get(label, 0))
        for label, expected in manifest["counts"].items()
        if counts.get(label, 0) != expected
    }
    if missing:
        raise BackupError(f"restored row counts differ from the backup: {missing}")
    log(f"database: {sum(counts.values()):,} rows restored")
    if rebuild_index:
        from retrieval import services as retrieval

        index_note = f"rebuilt from the database (version {retrieval.index_rebuild()['version']})"
    else:
        index_note = _restore_index(in_dir, manifest)
    log(f"index: {index_note}")
    return {"counts": counts, "index": index_note}
