"""Generation's settings as typed objects, so call sites never repeat names or defaults.

Read from `django.conf.settings` (which alone reads the environment) on each call: cheap,
and tests that override settings see their values. The defaults and what each one means are
in kb_platform/settings.py ("Generation").
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class LLMConf:
    """The LLM server (LLM_*): where it is, how it is called, and the local one for laptops."""

    base_url: str
    model: str
    api_key: str
    backend: str
    json_mode: str
    timeout_seconds: float
    connect_timeout_seconds: float
    max_retries: int
    retry_backoff_seconds: float
    temperature: float
    circuit_failures: int
    circuit_reset_seconds: float
    max_context_tokens: int
    max_answer_tokens: int
    healthcheck_on_startup: bool
    local_model_path: str
    local_port: int
    local_threads: int
    local_context_tokens: int

    @property
    def configured(self) -> bool:
        """Is an LLM server configured (LLM_BASE_URL set)? Else the extractive answerer."""
        return bool(self.base_url)


@dataclass(frozen=True)
class GenerationConf:
    llm: LLMConf
    max_question_chars: int
    search_top_k: int
    max_sources: int
    history_turns: int
    min_support: float
    confidence_model: str
    min_confidence_public: float
    min_confidence_internal: float
    abstain_on_unknown_names: bool
    gate_min_support: float
    gate_min_surviving: float
    gate_attribute_uncited: bool
    gate_cross_lingual_min_cosine: float
    stream_delay_ms: int
    cache_seconds: int


def llm_conf() -> LLMConf:
    """The current LLM settings."""
    return LLMConf(
        base_url=settings.LLM_BASE_URL,
        model=settings.LLM_MODEL,
        api_key=settings.LLM_API_KEY,
        backend=settings.LLM_BACKEND,
        json_mode=settings.LLM_JSON_MODE,
        timeout_seconds=settings.LLM_TIMEOUT_SECONDS,
        connect_timeout_seconds=settings.LLM_CONNECT_TIMEOUT_SECONDS,
        max_retries=settings.LLM_MAX_RETRIES,
        retry_backoff_seconds=settings.LLM_RETRY_BACKOFF_SECONDS,
        temperature=settings.LLM_TEMPERATURE,
        circuit_failures=settings.LLM_CIRCUIT_FAILURES,
        circuit_reset_seconds=settings.LLM_CIRCUIT_RESET_SECONDS,
        max_context_tokens=settings.LLM_MAX_CONTEXT_TOKENS,
        max_answer_tokens=settings.LLM_MAX_ANSWER_TOKENS,
        healthcheck_on_startup=settings.LLM_HEALTHCHECK_ON_STARTUP,
        local_model_path=settings.LLM_LOCAL_MODEL_PATH,
        local_port=settings.LLM_LOCAL_PORT,
        local_threads=settings.LLM_LOCAL_THREADS,
        local_context_tokens=settings.LLM_LOCAL_CONTEXT_TOKENS,
    )


def generation_conf() -> GenerationConf:
    """The current generation settings."""
    return GenerationConf(
        llm=llm_conf(),
        max_question_chars=settings.KB_MAX_QUESTION_CHARS,
        search_top_k=settings.ANSWER_SEARCH_TOP_K,
        max_sources=settings.ANSWER_MAX_SOURCES,
        history_turns=settings.ANSWER_HISTORY_TURNS,
        min_support=settings.ANSWER_MIN_SUPPORT,
        confidence_model=settings.ANSWER_CONFIDENCE_MODEL,
        min_confidence_public=settings.ANSWER_MIN_CONFIDENCE_PUBLIC,
        min_confidence_internal=settings.ANSWER_MIN_CONFIDENCE_INTERNAL,
        abstain_on_unknown_names=settings.ANSWER_ABSTAIN_ON_UNKNOWN_NAMES,
        gate_min_support=settings.ANSWER_GATE_MIN_SUPPORT,
        gate_min_surviving=settings.ANSWER_GATE_MIN_SURVIVING,
        gate_attribute_uncited=settings.ANSWER_GATE_ATTRIBUTE_UNCITED,
        gate_cross_lingual_min_cosine=settings.ANSWER_GATE_CROSS_LINGUAL_MIN_COSINE,
        stream_delay_ms=settings.ANSWER_STREAM_DELAY_MS,
        cache_seconds=settings.ANSWER_CACHE_SECONDS,
    )
