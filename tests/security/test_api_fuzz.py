"""Property-based API fuzzing from our own OpenAPI schema (schemathesis, in-process WSGI).

Valid and invalid inputs for every operation, anonymous and with an editor token: the API
may refuse (4xx) but never fails (5xx).
"""

from __future__ import annotations

import pytest

schemathesis = pytest.importorskip("schemathesis")

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis.errors import Unsatisfiable  # noqa: E402
from schemathesis import GenerationMode  # noqa: E402
from schemathesis.checks import not_a_server_error  # noqa: E402

from tests.security.conftest import token_for  # noqa: E402

MAX_EXAMPLES = 10


def _operations(schema):
    for result in schema.get_all_operations():
        yield result.ok()


def _fuzz(operation, mode, headers: dict, counted: dict, failures: list) -> None:
    """Run generated cases for one operation; record every 5xx (and any generation error)."""

    @settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        response = case.call(headers=headers)
        counted["cases"] += 1
        status = response.status_code
        counted["statuses"][status] = counted["statuses"].get(status, 0) + 1
        try:
            case.validate_response(response, checks=[not_a_server_error])
        except Exception as exc:
            failures.append(f"{operation.label} {mode.value}: {status} {exc}"[:800])

    try:
        run()
    except Unsatisfiable:
        pass  # an operation without inputs has no invalid variant (POST /api/token)
    except Exception as exc:  # strategy problems must not hide as passes
        failures.append(f"{operation.label} {mode.value}: {type(exc).__name__} {exc}"[:800])


@pytest.fixture
def _keep_test_connection():
    """The raw WSGI app closes "obsolete" connections after each request, which would close
    the test's transaction on PostgreSQL: do what Django's test client does and keep it."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.mark.django_db
@pytest.mark.parametrize("who", ["anonymous", "editor"])
def test_api_never_answers_5xx_to_generated_requests(seeded_kb, users, who, _keep_test_connection):
    from kb_platform.wsgi import application

    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    headers = {}
    if who == "editor":
        headers["Authorization"] = f"Token {token_for(users.editor)}"
    counted = {"cases": 0, "statuses": {}}
    failures = []

    operations = list(_operations(schema))
    assert len(operations) >= 12, [op.label for op in operations]
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, mode, headers, counted, failures)
    print(
        f"\nschemathesis ({who}): {counted['cases']} cases over {len(operations)} operations, "
        f"statuses {dict(sorted(counted['statuses'].items()))}"
    )
    assert failures == [], "\n".join(failures)
    assert counted["cases"] >= 100
