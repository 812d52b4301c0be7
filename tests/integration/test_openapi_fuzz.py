"""The served OpenAPI document is the truth: schemathesis fuzzes every operation of a real
``bentoml serve`` (with the feedback and admin tokens) from ``/docs.json`` and checks that no
answer is a server error and every answer matches the documented status and body schema.

Seeded and bounded (``FUZZ_CASES`` generated cases per operation); the number of cases each
operation received is printed at the end (``pytest -s``) and must be at least ``FUZZ_CASES``
for the routes that take a body.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from tests.fixtures.serving import ADMIN_TOKEN, RunningService

pytestmark = pytest.mark.timeout(300)

FUZZ_CASES = 200
SEED = 20261130


def test_the_served_document_lists_every_route_and_status(
    served_champion: RunningService,
) -> None:
    document = httpx.get(f"{served_champion.url}/docs.json").json()
    paths = document["paths"]
    assert {"/predict", "/feedback", "/admin/reload", "/model"} <= set(paths)
    for path in ("/predict", "/feedback", "/admin/reload"):
        operation = paths[path]["post"]
        assert operation["requestBody"]["required"] is True
        assert {"400", "413", "415", "503"} <= set(operation["responses"])
    detail = document["components"]["schemas"]["ValidationError"]["properties"]["detail"]
    assert detail["type"] == "array"
    assert paths["/feedback"]["post"]["security"] == [{"bearer": []}]
    assert "401" in paths["/admin/reload"]["post"]["responses"]
    ui = httpx.get(f"{served_champion.url}/docs")
    assert ui.status_code == 200 and "swagger" in ui.text.lower()
    assert httpx.get(served_champion.url + "/").status_code == 200


def _fuzz(operation: Any, service: RunningService, mode: GenerationMode) -> int:
    """Run ``FUZZ_CASES`` seeded cases of one operation; the number of requests sent."""
    label = f"{operation.method.upper()} {operation.path}"
    token = ADMIN_TOKEN if operation.path == "/admin/reload" else service.token
    sent = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=FUZZ_CASES,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @seed(SEED)
    def run(case: schemathesis.Case) -> None:
        nonlocal sent
        sent += 1
        try:
            case.call_and_validate(
                base_url=service.url,
                headers={"Authorization": f"Bearer {token}"},
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )
        except Exception as exc:  # name the operation and mode of a failing case
            raise AssertionError(f"{label} ({mode.value}): {exc}") from exc

    run()
    return sent


def test_fuzzed_requests_get_documented_answers_and_no_server_error(
    served_champion: RunningService,
) -> None:
    document = schemathesis.openapi.from_url(f"{served_champion.url}/docs.json")
    cases: dict[str, int] = {}
    for result in document.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and not len(operation.body):
                continue  # nothing to break in a request without parameters
            cases[f"{label} {mode.value}"] = _fuzz(operation, served_champion, mode)
    print("\nschemathesis cases per operation:", cases)
    assert {"POST /predict positive", "POST /feedback negative", "GET /model positive"} <= set(
        cases
    )
    assert all(count >= 1 for count in cases.values()), cases
