"""The LLM backend protocol and its errors (each error carries a short fallback reason)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol


class LLMError(Exception):
    """The LLM could not produce an answer; `reason` is a short code for Answer.fallback_reason."""

    reason = "llm_error"

    def __init__(self, message: str = "", *, reason: str | None = None) -> None:
        super().__init__(message or self.reason)
        if reason:
            self.reason = reason


class LLMNotConfigured(LLMError):
    reason = "llm_not_configured"


class LLMUnavailable(LLMError):
    """Connection refused/reset, DNS, or 5xx after the bounded retries."""

    reason = "llm_unavailable"


class LLMTimeout(LLMError):
    reason = "llm_timeout"


class LLMBadResponse(LLMError):
    """A reply that is not the OpenAI wire format we expect (malformed JSON, garbage, empty)."""

    reason = "llm_bad_response"


class LLMStreamBroken(LLMError):
    """The connection ended before `data: [DONE]`."""

    reason = "llm_stream_interrupted"


class LLMCircuitOpen(LLMError):
    reason = "llm_circuit_open"


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0


@dataclass
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    model: str = ""


class ChatStream(Protocol):
    """An iterator of text deltas; `usage` and `model` are filled once it is exhausted."""

    usage: Usage
    model: str
    attempts: int

    def __iter__(self) -> Iterator[str]: ...

    def __next__(self) -> str: ...

    def close(self) -> None: ...


class LLMBackend(Protocol):
    name: str
    model: str

    def stream(
        self, messages: list[dict[str, str]], *, max_tokens: int, json_schema: dict | None = None
    ) -> ChatStream:
        """Stream the reply's text deltas; raises LLMError (never anything else)."""
        ...

    def complete(
        self, messages: list[dict[str, str]], *, max_tokens: int, json_schema: dict | None = None
    ) -> Completion:
        """The whole reply at once; raises LLMError."""
        ...

    def complete_json(
        self, messages: list[dict[str, str]], schema: dict, *, max_tokens: int
    ) -> dict[str, Any]:
        """A JSON object that follows schema (guided decoding); raises LLMError."""
        ...

    def health(self) -> dict[str, Any]:
        """{"ok": bool, "models": [...], "error": str}."""
        ...
