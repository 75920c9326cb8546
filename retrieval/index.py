"""The FAISS + BM25 index store: the versioned on-disk artifact (no ORM).

`FaissBm25Store` (alias `IndexStore`) implements `retrieval.store.ChunkIndexStore`; nothing
outside retrieval reads this module's formats. One version in memory (`Snapshot`, how it is
built and updated) lives in `retrieval.snapshot`, the FAISS vector index in
`retrieval.dense_index`: this module is only about the disk (layout, publish, load, backup).

Layout of INDEX_DIR:
    manifest.json            {"version": ..., "path": "versions/<version>", ...}: the current one
    .lock                    flock'ed by writers around build + publish
    versions/<version>/      immutable once published:
        dense_all.faiss      every indexed chunk (internal audience)
        dense_public.faiss   public chunks only: public searches never see internal vectors
        chunks.json          chunk id -> article id, title, slug, visibility, heading, text
        lexical/             BM25 (bm25s) over the same chunks (internal audience)
        lexical_public/      BM25 over public chunks only: its term statistics (IDF, average
                             length) never move when internal articles change
        ml_all.faiss,        the multilingual dense leg (when MULTILINGUAL_EMBEDDING_BACKEND is
        ml_public.faiss      on): the same chunk ids, vectors of info["ml"]["model_id"]
        ml_vocab.json, .npy  the KB's English words with their multilingual query vectors
        lexical_<lang>/,     BM25 over the chunks of articles in <lang>, that language's
        lexical_<lang>_public/  analysis (all chunks / public ones alone, as above)
        info.json

A version is written to a temporary folder, fsynced, renamed into place, and only then does
manifest.json move to it (write temp + fsync + os.replace). Readers check the manifest's stat
on every search (one syscall) and load a new version when it changes, so web and worker
processes pick up new versions without restart.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from retrieval.dense_index import DenseIndex, IndexParams
from retrieval.lexical import LexicalIndex
from retrieval.snapshot import ChunkMeta, Snapshot, build_snapshot, replace_article
from retrieval.vocabulary import Vocabulary

if TYPE_CHECKING:
    from retrieval.store import SearchableIndex

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
# 2: lexical_public/ (format-1 versions load and build it in memory).
# 3: the multilingual leg (ml_*.faiss, vocabulary) and per-language BM25 (lexical_<lang>/,
# lexical_<lang>_public/), chunk rows with their locale. Older versions load without them
# (every chunk English); a foreign question then asks for one rebuild (retrieval.services).
FORMAT = 3


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):  # some filesystems cannot fsync a directory
        _fsync_file(path)


def _write_json_atomic(path: Path, payload: dict) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(payload, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _own(snapshot: SearchableIndex) -> Snapshot:
    """This store's own snapshot type (a store is only ever handed back what it built)."""
    if not isinstance(snapshot, Snapshot):
        raise TypeError(f"the FAISS store cannot publish a {type(snapshot).__name__}")
    return snapshot


class IndexStore:
    """Reads and publishes FAISS + BM25 index versions under one INDEX_DIR.

    The `retrieval.store.ChunkIndexStore` implementation registered as "faiss".
    """

    kind = "faiss"

    def __init__(self, root: Path | str, params: IndexParams):
        self.root = Path(root)
        self.params = params
        self._loaded: Snapshot | None = None
        self._stat_key: tuple | None = None
        self._lock = threading.Lock()

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    @contextlib.contextmanager
    def write_lock(self, timeout: float = 600.0) -> Iterator[None]:
        """Exclusive across processes (flock on INDEX_DIR/.lock): one writer at a time."""
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".lock").open("a+") as fh:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"index lock {self.root}/.lock held too long") from None
                    time.sleep(0.05)
            try:
                yield
            finally:
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    # -- building (ChunkIndexStore) ----------------------------------------------------------
    def build(
        self,
        *,
        chunks: list[ChunkMeta],
        vectors: np.ndarray,
        lexical_texts: list[str],
        model_id: str,
        dimension: int,
        ml_vectors: np.ndarray | None = None,
        ml_model_id: str = "",
        ml_vocab: Vocabulary | None = None,
    ) -> Snapshot:
        """A complete new snapshot in memory (publish it to make it current)."""
        return build_snapshot(
            chunks=chunks,
            vectors=vectors,
            lexical_texts=lexical_texts,
            model_id=model_id,
            dimension=dimension,
            params=self.params,
            ml_vectors=ml_vectors,
            ml_model_id=ml_model_id,
            ml_vocab=ml_vocab,
        )

    def replace_article(
        self,
        current: SearchableIndex,
        *,
        article_id: int,
        chunks: list[ChunkMeta],
        vectors: np.ndarray,
        ml_vectors: np.ndarray | None = None,
    ) -> Snapshot:
        """`current` with one article's chunks replaced (no chunks: the article removed)."""
        return replace_article(
            _own(current),
            article_id=article_id,
            chunks=chunks,
            vectors=vectors,
            params=self.params,
            ml_vectors=ml_vectors,
        )

    def read_manifest(self) -> dict | None:
        try:
            return json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None

    def current(self) -> Snapshot | None:
        """The published snapshot, reloaded only when the manifest changed (cheap stat)."""
        try:
            st = os.stat(self.manifest_path)
        except FileNotFoundError:
            return None
        key = (st.st_ino, st.st_mtime_ns, st.st_size)
        if key == self._stat_key and self._loaded is not None:
            return self._loaded
        with self._lock:
            if key == self._stat_key and self._loaded is not None:
                return self._loaded
            for _attempt in range(3):
                try:
                    manifest = self.read_manifest()
                    if manifest is None:
                        return None
                    if self._loaded is not None and manifest["version"] == self._loaded.version:
                        self._stat_key = key
                        return self._loaded
                    snapshot = self.load_version(manifest)
                except FileNotFoundError:
                    # Pruned between reading the manifest and loading: read it again.
                    time.sleep(0.05)
                    continue
                except (ValueError, KeyError, TypeError, RuntimeError, OSError):
                    # A corrupted manifest or version is derived data: report "no index" so
                    # the caller rebuilds it from the database instead of failing requests.
                    logger.exception("index at %s is unreadable: it will be rebuilt", self.root)
                    return None
                self._loaded, self._stat_key = snapshot, key
                logger.info("loaded index %s (%d chunks)", snapshot.version, len(snapshot.chunks))
                return snapshot
        return self._loaded

    def load_version(self, manifest: dict) -> Snapshot:
        folder = self.root / manifest["path"]
        info = json.loads((folder / "info.json").read_text(encoding="utf-8"))
        dimension = int(info["dimension"])
        rows = json.loads((folder / "chunks.json").read_text(encoding="utf-8"))
        chunks = {int(r["chunk_id"]): ChunkMeta(**r) for r in rows}
        public_folder = folder / "lexical_public"
        return Snapshot(
            version=manifest["version"],
            model_id=info["model_id"],
            dimension=dimension,
            dense_all=DenseIndex.load(
                folder / "dense_all.faiss",
                dimension=dimension,
                kind=info["kinds"]["all"],
                params=self.params,
            ),
            dense_public=DenseIndex.load(
                folder / "dense_public.faiss",
                dimension=dimension,
                kind=info["kinds"]["public"],
                params=self.params,
            ),
            lexical=LexicalIndex.load(folder / "lexical"),
            # A format-1 version has none: derived from its chunks on load.
            lexical_public=LexicalIndex.load(public_folder) if public_folder.is_dir() else None,
            chunks=chunks,
            folder=folder,
            **self._load_multilingual(folder, info),
        )

    def _load_multilingual(self, folder: Path, info: dict) -> dict:
        """The multilingual parts of a format-3 version (none in older ones)."""
        locales = info.get("lexical_locales", [])
        out: dict = {
            "lexical_by_locale": {
                locale: LexicalIndex.load(folder / f"lexical_{locale}") for locale in locales
            },
            # Missing ones are derived from the chunks in __post_init__.
            "lexical_public_by_locale": {
                locale: LexicalIndex.load(folder / f"lexical_{locale}_public")
                for locale in locales
                if (folder / f"lexical_{locale}_public").is_dir()
            },
        }
        ml = info.get("ml")
        if ml:
            for name in ("all", "public"):
                out[f"ml_{name}"] = DenseIndex.load(
                    folder / f"ml_{name}.faiss",
                    dimension=int(ml["dimension"]),
                    kind=ml["kinds"][name],
                    params=self.params,
                )
            out["ml_model_id"] = ml["model_id"]
            out["ml_vocab"] = Vocabulary.load(folder)
        return out

    def publish(self, snapshot: SearchableIndex) -> dict:
        """Write `snapshot` as a new version and point the manifest at it (call under lock)."""
        snapshot = _own(snapshot)
        versions = self.root / "versions"
        versions.mkdir(parents=True, exist_ok=True)
        tmp = versions / f".tmp-{snapshot.version}"
        tmp.mkdir()
        try:
            snapshot.dense_all.save(tmp / "dense_all.faiss")
            snapshot.dense_public.save(tmp / "dense_public.faiss")
            snapshot.lexical.save(tmp / "lexical")
            if snapshot.lexical_public is not None:
                snapshot.lexical_public.save(tmp / "lexical_public")
            for locale, lexical in snapshot.lexical_by_locale.items():
                lexical.save(tmp / f"lexical_{locale}")
            for locale, lexical in snapshot.lexical_public_by_locale.items():
                lexical.save(tmp / f"lexical_{locale}_public")
            ml_info = None
            if snapshot.ml_all is not None and snapshot.ml_public is not None:
                snapshot.ml_all.save(tmp / "ml_all.faiss")
                snapshot.ml_public.save(tmp / "ml_public.faiss")
                if snapshot.ml_vocab is not None:
                    snapshot.ml_vocab.save(tmp)
                ml_info = {
                    "model_id": snapshot.ml_model_id,
                    "dimension": snapshot.ml_all.dimension,
                    "kinds": {"all": snapshot.ml_all.kind, "public": snapshot.ml_public.kind},
                }
            with (tmp / "chunks.json").open("w", encoding="utf-8") as fh:
                json.dump([asdict(c) for c in snapshot.chunks.values()], fh)
            info = {
                "format": FORMAT,
                "version": snapshot.version,
                "model_id": snapshot.model_id,
                "dimension": snapshot.dimension,
                "chunks": len(snapshot.chunks),
                "public_chunks": snapshot.dense_public.ntotal,
                "kinds": {"all": snapshot.dense_all.kind, "public": snapshot.dense_public.kind},
                "ml": ml_info,
                "lexical_locales": sorted(snapshot.lexical_by_locale),
                "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
            (tmp / "info.json").write_text(json.dumps(info), encoding="utf-8")
            for path in tmp.rglob("*"):
                if path.is_file():
                    _fsync_file(path)
            final = versions / snapshot.version
            os.replace(tmp, final)
            _fsync_dir(versions)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        manifest = {**info, "path": f"versions/{snapshot.version}"}
        _write_json_atomic(self.manifest_path, manifest)
        snapshot.folder = final
        self._prune(keep=snapshot.version)
        return manifest

    # -- backup (ChunkIndexStore) ------------------------------------------------------------
    def export_current(self, dest: Path) -> dict | None:
        """Copy the manifest and the current version (nothing older) into `dest`."""
        try:
            manifest = json.loads(self.manifest_path.read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        source = self.root / manifest["path"]
        if not source.is_dir():
            return None
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copytree(source, dest / manifest["path"])
        shutil.copy2(self.manifest_path, dest / MANIFEST)
        return manifest

    def import_published(self, src: Path) -> Snapshot | None:
        """Make the version exported into `src` current here; None when `src` holds none."""
        try:
            manifest = json.loads((src / MANIFEST).read_text(encoding="utf-8"))
        except (FileNotFoundError, ValueError):
            return None
        self.root.mkdir(parents=True, exist_ok=True)
        target = self.root / manifest["path"]
        if not target.exists():
            shutil.copytree(src / manifest["path"], target)
        tmp = self.root / f".{MANIFEST}.{uuid.uuid4().hex}.restore-tmp"
        shutil.copy2(src / MANIFEST, tmp)
        os.replace(tmp, self.manifest_path)
        self._loaded, self._stat_key = None, None
        return self.current()

    def _prune(self, *, keep: str) -> None:
        versions = self.root / "versions"
        keep_n = max(2, self.params.keep_versions)
        folders = sorted(
            (p for p in versions.iterdir() if p.is_dir() and not p.name.startswith(".")),
            key=lambda p: p.name,
        )
        for old in folders[:-keep_n]:
            if old.name != keep:
                shutil.rmtree(old, ignore_errors=True)
        # Leftovers of writers that crashed mid-build.
        for tmp in versions.glob(".tmp-*"):
            if time.time() - tmp.stat().st_mtime > 3600:
                shutil.rmtree(tmp, ignore_errors=True)


_stores: dict[tuple, IndexStore] = {}
_stores_lock = threading.Lock()


FaissBm25Store = IndexStore


def get_store(root: Path | str, params: IndexParams) -> IndexStore:
    """One IndexStore (and so one loaded snapshot) per process, INDEX_DIR and parameters."""
    key = (str(Path(root).resolve()), params)
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = _stores[key] = IndexStore(root, params)
        return store
