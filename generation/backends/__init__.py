"""LLM backends, by kind: any OpenAI-compatible server, and vLLM with its guided-JSON extras.

A new provider is one module with an HTTPBackend subclass and one line in BACKENDS; the
factory looks the kind up by LLM_BACKEND. (The extractive answerer needs no backend.)
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from generation.backends.base import (
    ChatStream,
    Completion,
    LLMBackend,
    LLMBadResponse,
    LLMCircuitOpen,
    LLMError,
    LLMNotConfigured,
    LLMStreamBroken,
    LLMTimeout,
    LLMUnavailable,
    Usage,
)
from generation.backends.circuit import breaker_for
from generation.conf import llm_conf

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "ChatStream",
    "Completion",
    "LLMBackend",
    "LLMBadResponse",
    "LLMCircuitOpen",
    "LLMError",
    "LLMNotConfigured",
    "LLMStreamBroken",
    "LLMTimeout",
    "LLMUnavailable",
    "Usage",
    "backend_class",
    "get_llm_backend",
    "llm_configured",
]

# LLM_BACKEND -> "module:Class". llama.cpp's server, TGI, LM Studio, ... speak "openai".
BACKENDS: dict[str, str] = {
    "openai": "generation.backends.openai:OpenAICompatibleBackend",
    "vllm": "generation.backends.vllm:VLLMBackend",
}

_discovered_models: dict[str, str] = {}


def llm_configured() -> bool:
    """Is an LLM server configured (LLM_BASE_URL set)?"""
    return llm_conf().configured


def backend_class(kind: str) -> type:
    """The backend class registered under kind (ValueError for an unknown kind)."""
    try:
        module_name, class_name = BACKENDS[kind].split(":")
    except KeyError:
        raise ValueError(f"unknown LLM backend {kind!r}; known: {', '.join(BACKENDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def get_llm_backend() -> LLMBackend:
    """The configured LLM backend (cheap: clients and breakers are shared per process)."""
    conf = llm_conf()
    if not conf.configured:
        raise LLMNotConfigured("LLM_BASE_URL is empty: the extractive answerer is in use")
    base_url = conf.base_url.rstrip("/")
    kind = conf.backend
    kwargs: dict[str, Any] = {
        "base_url": base_url,
        "model": conf.model or _discovered_models.get(base_url, ""),
        "api_key": conf.api_key,
        "connect_timeout": conf.connect_timeout_seconds,
        "read_timeout": conf.timeout_seconds,
        "total_timeout": max(conf.timeout_seconds * 4, 60.0),
        "max_retries": conf.max_retries,
        "backoff_s": conf.retry_backoff_seconds,
        "temperature": conf.temperature,
        "breaker": breaker_for(
            base_url,
            failures=conf.circuit_failures,
            reset_s=conf.circuit_reset_seconds,
        ),
    }
    if kind == "vllm":
        kwargs["json_mode"] = conf.json_mode
    backend = backend_class(kind)(**kwargs)
    if not backend.model:
        # LLM_MODEL unset: use the (first) model the server serves, asked once per process.
        health = backend.health()
        if health["models"]:
            backend.model = _discovered_models[base_url] = health["models"][0]
            logger.info("LLM_MODEL unset; using the served model %s", backend.model)
    return backend
