"""Fixtures for generation tests: a fake vLLM server and hand-built search results."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from generation.backends import circuit
from retrieval.types import ChunkHit, SearchHit, SearchResult
from tests.generation.fake_vllm import FakeVLLM

API_KEY = "test-key-123"


@pytest.fixture(scope="session")
def _fake_server() -> Iterator[FakeVLLM]:
    server = FakeVLLM(model="fake-model", api_key=API_KEY, sleep_s=1.5).start()
    yield server
    server.stop()


@pytest.fixture
def fake_vllm(_fake_server: FakeVLLM, settings) -> Iterator[FakeVLLM]:
    """The fake server, reset, with the LLM settings pointing at it (short timeouts)."""
    _fake_server.reset()
    circuit.reset_all()
    settings.LLM_BASE_URL = _fake_server.base_url
    settings.LLM_MODEL = "fake-model"
    settings.LLM_API_KEY = API_KEY
    settings.LLM_TIMEOUT_SECONDS = 3.0  # generous under CI load; the timeout test lowers it
    settings.LLM_CONNECT_TIMEOUT_SECONDS = 0.5
    settings.LLM_MAX_RETRIES = 2
    settings.LLM_RETRY_BACKOFF_SECONDS = 0.01
    settings.LLM_CIRCUIT_FAILURES = 3
    settings.LLM_CIRCUIT_RESET_SECONDS = 1.0
    yield _fake_server
    circuit.reset_all()


@pytest.fixture(scope="session")
def _local_llm_server():
    """The real local model server (`manage.py llm_serve`), one process per test session."""
    from generation.local_server import start_process

    server = start_process(threads=1, context_tokens=4096)
    yield server
    server.stop()


@pytest.fixture
def local_llm(_local_llm_server, settings):
    """Settings pointing at the real local server; short answers keep the tests cheap."""
    if not _local_llm_server.healthy():
        pytest.fail("the local model server died during the session")
    circuit.reset_all()
    settings.LLM_BACKEND = "openai"
    settings.LLM_BASE_URL = _local_llm_server.base_url
    settings.LLM_MODEL = _local_llm_server.alias
    settings.LLM_API_KEY = ""
    settings.LLM_TIMEOUT_SECONDS = 120.0  # generous: a loaded CI machine reads prompts slowly
    settings.LLM_CONNECT_TIMEOUT_SECONDS = 2.0
    settings.LLM_MAX_RETRIES = 0
    settings.LLM_MAX_CONTEXT_TOKENS = 2048
    settings.LLM_MAX_ANSWER_TOKENS = 48
    settings.LLM_TEMPERATURE = 0.0
    yield _local_llm_server
    circuit.reset_all()


@pytest.fixture(autouse=True)
def _answer_settings(settings) -> None:
    settings.ANSWER_MIN_CONFIDENCE_PUBLIC = 0.2
    settings.ANSWER_MIN_CONFIDENCE_INTERNAL = 0.1
    settings.ANSWER_STREAM_DELAY_MS = 0


def hit(
    article_id: int,
    title: str,
    text: str,
    *,
    score: float = 1.0,
    visibility: str = "public",
    heading_path: str = "",
    chunk_id: int | None = None,
) -> SearchHit:
    """A search hit with one chunk (plain dataclasses, as retrieval returns them)."""
    return SearchHit(
        article_id=article_id,
        title=title,
        slug=title.lower().replace(" ", "-"),
        visibility=visibility,
        score=score,
        chunks=[
            ChunkHit(
                chunk_id=chunk_id if chunk_id is not None else article_id * 100,
                text=text,
                heading_path=heading_path,
                score=score,
            )
        ],
    )


def result(query: str, hits: list[SearchHit], *, confidence: float = 0.9, audience="public"):
    return SearchResult(query=query, audience=audience, hits=hits, confidence=confidence)


PASSWORD_TEXT = (
    "You can reset your password from the sign-in page. "
    "Click Forgot password and enter the email address of your account. "
    "We send a reset link that stays valid for 24 hours. "
    "Passwords must have at least twelve characters."
)
BILLING_TEXT = (
    "Invoices are sent on the first day of each month. "
    "You can download past invoices under Billing in your account settings. "
    "Refunds are processed within ten business days."
)
SHIPPING_TEXT = (
    "Orders ship within two business days. "
    "Express shipping is available in most countries for an extra fee."
)


@pytest.fixture
def kb_result() -> SearchResult:
    """A typical search result for a password question."""
    return result(
        "How do I reset my password?",
        [
            hit(1, "Reset your password", PASSWORD_TEXT, score=0.9, heading_path="Account"),
            hit(2, "Billing and invoices", BILLING_TEXT, score=0.4),
            hit(3, "Shipping times", SHIPPING_TEXT, score=0.2),
        ],
    )
