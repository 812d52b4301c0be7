"""One table of outcomes: HTTP and gRPC answer every outcome of the core with matching statuses."""

from __future__ import annotations

import grpc
import pytest
from sqlalchemy.exc import OperationalError

from serving.errors import FieldViolation, InvalidRequest, NoChampion, Overloaded, status_of


@pytest.mark.parametrize(
    ("outcome", "http", "code", "words"),
    [
        (
            InvalidRequest([FieldViolation(3, "median_income", "must be >= 0")]),
            400,
            grpc.StatusCode.INVALID_ARGUMENT,
            "record 3: field 'median_income': must be >= 0",
        ),
        (
            NoChampion("no champion model is loaded yet"),
            503,
            grpc.StatusCode.UNAVAILABLE,
            "no champion",
        ),
        (Overloaded("the service is overloaded"), 503, grpc.StatusCode.UNAVAILABLE, "overloaded"),
        (
            OperationalError("INSERT", {}, Exception("database is locked")),
            503,
            grpc.StatusCode.UNAVAILABLE,
            "nothing was stored",
        ),
        (KeyError("price"), 500, grpc.StatusCode.INTERNAL, "internal error (KeyError)"),
    ],
)
def test_each_outcome_has_one_http_and_one_grpc_status(outcome, http, code, words) -> None:
    status = status_of(outcome)
    assert status.http == http
    assert grpc.StatusCode[status.grpc] == code
    assert words in status.message


def test_many_violations_list_the_first_and_count_the_rest_within_the_budget() -> None:
    from serving.errors import MESSAGE_BUDGET_BYTES

    violations = [FieldViolation(i, "median_income", "must be <= 20") for i in range(1000)]
    message = status_of(InvalidRequest(violations)).message
    listed = message.count("field 'median_income'")
    assert message.startswith("record 0: field 'median_income'")
    assert message.endswith(f"and {1000 - listed} more violations")
    assert len(message.encode()) <= MESSAGE_BUDGET_BYTES + 64
    one = status_of(InvalidRequest([FieldViolation(None, "x" * 100_000, "too long")])).message
    assert len(one.encode()) < MESSAGE_BUDGET_BYTES
