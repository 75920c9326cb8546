"""LLM backends, by kind: any OpenAI-compatible server, and vLLM with its guided-JSON extras.

A new provider is one module with an HTTPBackend subclass and one line in BACKENDS; the
factory looks the kind up by LLM_BACKEND. (The extractive answerer needs no backend.)
"""

from __future__ import annotations

import importlib
import logging
from typing import Any

from django.conf import settings

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
    return bool(settings.LLM_BASE_URL)


def backend_class(kind: str) -> type:
    """The backend class registered under kind (ValueError for an unknown kind)."""
    try:
        module_name, class_name = BACKENDS[kind].split(":")
    except KeyError:
        raise ValueError(f"unknown LLM backend {kind!r}; known: {', '.join(BACKENDS)}") from None
    return getattr(importlib.import_module(module_name), class_name)


def get_llm_backend() -> LLMBackend:
    """The configured LLM backend (cheap: clients and breakers are shared per process)."""
    if not settings.LLM_BASE_URL:
        raise LLMNotConfigured("LLM_BASE_URL is empty: the extractive answerer is in use")
    base_url = settings.LLM_BASE_URL.rstrip("/")
    kind = settings.LLM_BACKEND
    kwargs: dict[str, Any] = {
        "base_url": base_url,
        "model": settings.LLM_MODEL or _discovered_models.get(base_url, ""),
        "api_key": settings.LLM_API_KEY,
        "connect_timeout": settings.LLM_CONNECT_TIMEOUT_SECONDS,
        "read_timeout": settings.LLM_TIMEOUT_SECONDS,
        "total_timeout": max(settings.LLM_TIMEOUT_SECONDS * 4, 60.0),
        "max_retries": settings.LLM_MAX_RETRIES,
        "backoff_s": settings.LLM_RETRY_BACKOFF_SECONDS,
        "temperature": settings.LLM_TEMPERATURE,
        "breaker": breaker_for(
            base_url,
            failures=settings.LLM_CIRCUIT_FAILURES,
            reset_s=settings.LLM_CIRCUIT_RESET_SECONDS,
        ),
    }
    if kind == "vllm":
        kwargs["json_mode"] = settings.LLM_JSON_MODE
    backend = backend_class(kind)(**kwargs)
    if not backend.model:
        # LLM_MODEL unset: use the (first) model the server serves, asked once per process.
        health = backend.health()
        if health["models"]:
            backend.model = _discovered_models[base_url] = health["models"][0]
            logger.info("LLM_MODEL unset; using the served model %s", backend.model)
    return backend
