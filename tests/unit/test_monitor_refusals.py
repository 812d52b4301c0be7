"""Requests refused by validation: how their records are counted, stored and judged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from housing.config import Settings
from housing.run_summary import RefusalSummary, RefusedFigure, Status
from housing.store.database import LogDatabase
from housing.store.refusals import (
    REQUEST_FIELD,
    WITH_REQUEST,
    RefusalLog,
    RefusedRecords,
    refused_between,
    refused_records,
)
from monitoring.verdict import decide, refusal_check
from serving.schema import RecordsCheck, example_record, house_record_model, records_in_body
from tests.fixtures.training import make_settings


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, storage__flush_interval_s=0.05)


def _request_model(settings: Settings) -> type[BaseModel]:
    """The /predict body as service.py declares it (``{"houses": [...]}``)."""
    limit = settings.service.max_records_per_request
    houses = (list[house_record_model(settings)], Field(min_length=1, max_length=limit))  # type: ignore[valid-type]
    return create_model("PredictRequest", __config__=ConfigDict(extra="forbid"), houses=houses)


def _errors(settings: Settings, body: bytes) -> list[dict]:
    check = RecordsCheck(settings, _request_model(settings), key="houses")
    with pytest.raises(ValidationError) as caught:
        check.json_body(body)
    return caught.value.errors(include_url=False, include_input=False, include_context=False)


def _by_reason(reasons: list[RefusedRecords]) -> dict[tuple[str, str], int]:
    return {(r.field, r.kind): r.records for r in reasons}


def test_each_refused_record_counts_once_under_its_first_violation(settings: Settings) -> None:
    good = example_record(settings)
    bad_income = good | {"median_income": 150.0}  # a unit bug: x10 beyond the range
    worse = good | {"median_income": 150.0, "housing_median_age": -3}
    houses = [good, bad_income, worse]
    raw = json.dumps({"houses": houses}).encode()
    errors = _errors(settings, raw)
    reasons = _by_reason(refused_records(errors, records_in_body(raw), root="houses"))
    assert reasons == {
        ("median_income", "less_than_equal"): 1,
        # Two violations, counted once: under the first in the record's field order.
        ("housing_median_age", "greater_than_equal"): 1,
        ("", WITH_REQUEST): 1,  # the valid record refused with its request
    }
    assert sum(reasons.values()) == 3 == len(houses)


def test_request_level_violations_cover_the_records(settings: Settings) -> None:
    good = example_record(settings)
    count = settings.service.max_records_per_request + 1
    too_many = json.dumps({"houses": [good] * count}).encode()
    reasons = refused_records(_errors(settings, too_many), count, root="houses")
    assert _by_reason(reasons) == {("houses", "too_long"): count}
    not_json = b"{not json"
    reasons = refused_records(_errors(settings, not_json), records_in_body(not_json), "houses")
    assert [(r.field, r.records) for r in reasons] == [(REQUEST_FIELD, 1)]
    assert reasons[0].kind == "json_invalid"


def test_records_checked_without_a_body_are_attributed_by_index(settings: Settings) -> None:
    """gRPC validates the records list itself: locations start with the record index."""
    good = example_record(settings)
    check = RecordsCheck(settings)
    with pytest.raises(ValidationError) as caught:
        check.records([good, good | {"ocean_proximity": "ON THE MOON"}])
    reasons = _by_reason(refused_records(caught.value.errors(), 2, root="houses"))
    assert reasons == {("ocean_proximity", "literal_error"): 1, ("", WITH_REQUEST): 1}


def test_refusals_round_trip_through_the_journaled_writer(settings: Settings) -> None:
    database = LogDatabase(settings.storage)
    log = RefusalLog(settings.storage, database).start()
    before = datetime.now(UTC) - timedelta(seconds=1)
    log.record([RefusedRecords("median_income", "less_than_equal", 3)], "7", "http")
    log.record([RefusedRecords("median_income", "less_than_equal", 2)], "7", "grpc")
    log.record([RefusedRecords("", WITH_REQUEST, 19)], None, "http")
    assert log.flush()
    log.close()
    engine = database.ready()
    reasons = refused_between(engine, before, None)
    assert reasons == [
        RefusedRecords("", WITH_REQUEST, 19),
        RefusedRecords("median_income", "less_than_equal", 5),
    ]
    assert refused_between(engine, None, before) == []
    assert not list(Path(settings.storage.spool_dir).glob("refusals-*.jsonl"))
    database.dispose()


def _refusals(refused: int, logged: int) -> RefusalSummary:
    reasons = [RefusedFigure(field="median_income", kind="less_than_equal", records=refused)]
    return RefusalSummary(
        refused=refused,
        logged=logged,
        share=refused / (refused + logged),
        reasons=reasons if refused else [],
    )


def test_refused_share_above_the_limit_is_a_reason_even_without_logged_rows(
    settings: Settings,
) -> None:
    rules = settings.monitoring.refusals
    check = refusal_check(_refusals(600, 400), rules)
    assert check is not None and check.breached and check.value == pytest.approx(0.6)
    verdict = decide(None, 0, settings, _refusals(600, 0))
    assert verdict.status is Status.DRIFT and verdict.exit_code == 3
    assert "refused by validation" in verdict.reasons[0]
    assert "median_income (less_than_equal)" in verdict.reasons[0]
    assert verdict.refusals is not None and verdict.refusals.check is not None


def test_refused_share_within_the_limit_or_too_few_records_gives_no_reason(
    settings: Settings,
) -> None:
    rules = settings.monitoring.refusals
    within = refusal_check(_refusals(5, 995), rules)
    assert within is not None and not within.breached
    assert refusal_check(_refusals(0, 5000), rules).value == 0.0
    assert refusal_check(_refusals(100, rules.min_records - 101), rules) is None
    for refusals in (_refusals(5, 995), _refusals(0, 5000)):
        verdict = decide(None, 0, settings, refusals)
        assert verdict.status is Status.INSUFFICIENT_DATA
        assert not any("refused" in reason for reason in verdict.reasons)
