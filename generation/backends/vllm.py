"""vLLM: the OpenAI-compatible backend plus vLLM's own guided-decoding request fields.

Run vLLM with `--enable-prefix-caching` (the system prompt and popular sources recur across
questions) and `--max-model-len` at least LLM_MAX_CONTEXT_TOKENS. LLM_JSON_MODE picks the
JSON form: `response_format` (any recent vLLM), `structured_outputs` (vLLM >= 0.10; the only
form from 0.12) or `guided_json` (vLLM < 0.12). Other servers ignore the last two.
"""

from __future__ import annotations

from typing import Any

from generation.backends.openai import OpenAICompatibleBackend

JSON_MODES = ("response_format", "structured_outputs", "guided_json")


class VLLMBackend(OpenAICompatibleBackend):
    """OpenAI-compatible chat with vLLM's guided-JSON extras."""

    name = "vllm"

    def __init__(self, *, json_mode: str = "response_format", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if json_mode not in JSON_MODES:
            raise ValueError(f"json_mode must be one of {', '.join(JSON_MODES)}")
        self.json_mode = json_mode

    def json_fields(self, json_schema: dict) -> dict[str, Any]:
        if self.json_mode == "guided_json":
            return {"guided_json": json_schema}  # vLLM < 0.12
        if self.json_mode == "structured_outputs":
            return {"structured_outputs": {"json": json_schema}}  # vLLM >= 0.10
        return super().json_fields(json_schema)
