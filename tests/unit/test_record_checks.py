"""The fast path of a prediction request (msgspec) agrees with the API's pydantic models.

The msgspec record may only accept what the pydantic record model accepts, and must hand the
model the same values; a bad request must be answered with exactly the pydantic models' errors
(record, field, reason), whatever the fast path did.
"""

from __future__ import annotations

import json
import math
import random
from typing import Annotated, Any

import msgspec
import pandas as pd
import pytest
from pydantic import ConfigDict, Field, ValidationError, create_model

from housing.config import Settings, load_config
from housing.records import records_to_frame, validated_records_frame
from serving.schema import (
    RecordsCheck,
    example_record,
    house_record_model,
    house_record_struct,
    records_adapter,
)
from tests.fixtures.training import ROOT


@pytest.fixture(scope="module")
def settings() -> Settings:
    return load_config(ROOT / "configuration.yaml", environ={})


def real_records(count: int) -> list[dict[str, Any]]:
    frame = pd.read_csv(ROOT / "data" / "california_housing.csv").head(count)
    frame = frame.drop(columns=["median_house_value"]).astype(object)
    return [
        {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in r.items()}
        for r in frame.to_dict(orient="records")
    ]


# One bad value per case: wrong types, out of range, non-finite, unknown, missing.
BAD_VALUES: list[tuple[str, Any]] = [
    ("median_income", 80.0), ("median_income", -0.5), ("median_income", "3.5"),
    ("median_income", True), ("median_income", None), ("median_income", math.nan),
    ("median_income", math.inf), ("median_income", [1.0]), ("median_income", 10**400),
    ("longitude", "-122.2"), ("latitude", None), ("population", False),
    ("total_bedrooms", math.nan), ("total_bedrooms", -1), ("total_bedrooms", "1"),
    ("ocean_proximity", "ON THE MOON"), ("ocean_proximity", None), ("ocean_proximity", 1),
    ("ocean_proximity", "inland"), ("garage", 2),
]  # fmt: skip


def pydantic_accepts(settings: Settings, records: list[Any]) -> list[dict[str, Any]] | None:
    adapter = records_adapter(house_record_model(settings), 10_000)
    try:
        return [record.model_dump() for record in adapter.validate_python(records)]
    except ValidationError:
        return None


def msgspec_accepts(settings: Settings, records: list[Any]) -> list[dict[str, Any]] | None:
    try:
        return msgspec.to_builtins(msgspec.convert(records, list[house_record_struct(settings)]))
    except msgspec.ValidationError:
        return None


def request_check(settings: Settings) -> RecordsCheck:
    """The check as service.py builds it (the request model of the OpenAPI document)."""
    houses = Annotated[
        list[house_record_model(settings)],  # type: ignore[misc]
        Field(min_length=1, max_length=settings.service.max_records_per_request),
    ]
    request_model = create_model(
        "PredictRequest", __config__=ConfigDict(extra="forbid"), houses=(houses, ...)
    )
    return RecordsCheck(settings, request_model, key="houses")


def test_valid_records_are_accepted_with_the_record_models_values(settings: Settings) -> None:
    records = real_records(300)
    records[3]["total_bedrooms"] = None
    del records[4]["total_bedrooms"]  # nullable: may be left out
    records[5]["median_income"] = 3  # an integer for a float feature
    expected = pydantic_accepts(settings, records)
    assert msgspec_accepts(settings, records) == expected
    check = request_check(settings)
    assert check.records(records) == expected
    assert check.json_body(json.dumps({"houses": records}).encode()) == expected
    assert expected[4]["total_bedrooms"] is None and type(expected[5]["median_income"]) is float


@pytest.mark.parametrize(("field", "value"), BAD_VALUES, ids=[f"{f}={v!r}" for f, v in BAD_VALUES])
def test_a_single_bad_value_is_refused_with_the_record_models_errors(
    settings: Settings, field: str, value: Any
) -> None:
    records = real_records(5)
    records[2][field] = value
    assert pydantic_accepts(settings, records) is None
    assert msgspec_accepts(settings, records) is None
    with pytest.raises(ValidationError) as fast:
        request_check(settings).records(records)
    with pytest.raises(ValidationError) as slow:
        records_adapter(house_record_model(settings), 1000).validate_python(records)
    assert fast.value.errors() == slow.value.errors()


def test_missing_required_field_and_non_objects_are_refused(settings: Settings) -> None:
    records = real_records(3)
    del records[1]["latitude"]
    assert msgspec_accepts(settings, records) is None
    assert msgspec_accepts(settings, [*real_records(2), "house"]) is None


def test_random_mutations_never_pass_where_the_record_model_refuses(settings: Settings) -> None:
    generator = random.Random(7)
    fields = list(settings.dataset.features)
    candidates = [None, True, "x", -1e9, 1e9, 0, 1, 2.5, math.nan, "INLAND", "NEAR BAY", 50]
    accepted = 0
    for _ in range(400):
        records = real_records(4)
        for _ in range(generator.randint(1, 3)):
            record = generator.choice(records)
            record[generator.choice(fields)] = generator.choice(candidates)
        fast = msgspec_accepts(settings, records)
        if fast is not None:
            accepted += 1
            assert fast == pydantic_accepts(settings, records), records
    assert accepted > 0  # some mutations are valid values: the comparison was exercised


def test_frame_of_validated_records_equals_the_general_frame(settings: Settings) -> None:
    records = pydantic_accepts(settings, real_records(200))
    assert records is not None
    records[7]["total_bedrooms"] = None
    pd.testing.assert_frame_equal(
        validated_records_frame(records, settings), records_to_frame(records, settings)
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"houses": []}', b'{"houses": [', b"[1, 2]", b'{"houses": [], "extra": 1}', b"",
        json.dumps({"houses": [{"median_income": 80.0}]}).encode(),
        json.dumps({"houses": [example_record(load_config(ROOT / "configuration.yaml",
                                                          environ={}))] * 1001}).encode(),
    ],
    ids=["empty-list", "broken-json", "not-an-object", "unknown-top-level", "no-body",
         "bad-record", "too-many"],
)  # fmt: skip
def test_bad_request_bodies_get_the_request_models_errors(settings: Settings, body: bytes) -> None:
    check = request_check(settings)
    with pytest.raises(ValidationError) as fast:
        check.json_body(body)
    with pytest.raises(ValidationError) as slow:
        check._request.validate_json(body)  # type: ignore[union-attr]
    assert fast.value.errors() == slow.value.errors()


def test_absent_nullable_features_come_back_as_none(settings: Settings) -> None:
    record = example_record(settings)
    del record["total_bedrooms"]
    [decoded] = request_check(settings).json_body(json.dumps({"houses": [record]}).encode())
    assert decoded == record | {"total_bedrooms": None}


def test_integer_features_take_integers_inside_their_range_only() -> None:
    """The Boston profile has ``int`` features (CHAS, RAD, TAX) with bounds from YAML."""
    boston = load_config(ROOT / "examples" / "boston" / "configuration.yaml", environ={})
    record = example_record(boston)
    assert msgspec_accepts(boston, [record]) == pydantic_accepts(boston, [record]) is not None
    for value in (300.0, 1001, 99, True, "300"):
        bad = [record | {"TAX": value}]
        assert msgspec_accepts(boston, bad) is None and pydantic_accepts(boston, bad) is None
