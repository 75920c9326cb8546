"""The backend registry and the shared HTTP base (retries, backoff, circuit breaker)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from generation.backends import BACKENDS, backend_class, circuit, get_llm_backend
from generation.backends.base import Completion, LLMCircuitOpen, LLMUnavailable
from generation.backends.http import RETRY_STATUS, HTTPBackend, Retry
from generation.backends.openai import OpenAICompatibleBackend
from generation.backends.vllm import VLLMBackend


def test_factory_looks_the_kind_up_by_setting(fake_vllm, settings):
    assert type(get_llm_backend()) is OpenAICompatibleBackend  # the default: LLM_BACKEND=openai
    settings.LLM_BACKEND = "vllm"
    settings.LLM_JSON_MODE = "guided_json"
    backend = get_llm_backend()
    assert type(backend) is VLLMBackend and backend.json_mode == "guided_json"
    assert set(BACKENDS) == {"openai", "vllm"}
    with pytest.raises(ValueError, match="unknown LLM backend 'nope'"):
        backend_class("nope")


def test_openai_backend_sends_only_the_openai_json_form(fake_vllm):
    fields = get_llm_backend().json_fields({"title": "t", "type": "object"})
    assert set(fields) == {"response_format"}


class _PlainTextBackend(HTTPBackend):
    """A second provider with its own wire format: only the request and the parsing."""

    name = "plain"

    def complete(self, text: str) -> Completion:
        def attempt() -> Completion:
            response = self.client().post(
                f"{self.base_url}/chat/completions",
                json={"model": self.model, "messages": [{"role": "user", "content": text}]},
                headers=self.headers(),
            )
            if response.status_code in RETRY_STATUS:
                raise Retry(self.http_error(response))
            return Completion(text=response.json()["choices"][0]["message"]["content"])

        return self.call(attempt)


def _plain(fake, **kwargs) -> _PlainTextBackend:
    return _PlainTextBackend(
        base_url=fake.base_url,
        model="fake-model",
        api_key="test-key-123",
        backoff_s=0.0,
        breaker=circuit.breaker_for("plain-test", failures=2, reset_s=60),
        **kwargs,
    )


def test_a_new_provider_inherits_retries_and_the_circuit_breaker(fake_vllm):
    fake_vllm.script.extend(["503", "503"])
    assert _plain(fake_vllm, max_retries=2).complete("hi").text  # two 503s retried
    assert len(fake_vllm.chat_requests) == 3
    fake_vllm.default = "503"
    backend = _plain(fake_vllm, max_retries=0)
    for _ in range(2):
        with pytest.raises(LLMUnavailable):
            backend.complete("hi")
    with pytest.raises(LLMCircuitOpen):
        backend.complete("hi")
    assert len(fake_vllm.chat_requests) == 5  # the open circuit did not call the server


def test_stream_retries_only_before_the_first_item(fake_vllm):
    backend = _plain(fake_vllm, max_retries=3)
    calls = []

    def attempt() -> Iterator[str]:
        calls.append(1)
        if len(calls) == 1:
            raise httpx.ConnectError("refused")
        yield "a"
        raise httpx.ReadError("reset")

    items, error = [], None
    try:
        for item in backend.stream_with_retries(attempt, on_attempt=lambda n: None):
            items.append(item)
    except Exception as exc:
        error = exc
    assert items == ["a"] and len(calls) == 2
    assert type(error).__name__ == "LLMStreamBroken"


def test_vllm_json_mode_needs_the_vllm_backend():
    env = {"LLM_JSON_MODE": "guided_json", "LLM_BACKEND": "openai", "PATH": "", "KB_DEMO": "true"}
    code = "import kb_platform.settings"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode != 0 and "set LLM_BACKEND=vllm" in proc.stderr
    env["LLM_BACKEND"] = "vllm"
    proc = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 0, proc.stderr


def test_llm_serve_refuses_a_missing_model_file(tmp_path):
    from django.core.management import CommandError, call_command

    with pytest.raises(CommandError, match="no GGUF model file"):
        call_command("llm_serve", "--model", str(tmp_path / "missing.gguf"))
