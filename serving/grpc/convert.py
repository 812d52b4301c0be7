"""Translate between the typed proto messages and the plain records the HTTP path validates.

gRPC requests are turned into exactly the dictionaries an HTTP JSON body would hold, so the
same validator decides on both protocols: a field the proto leaves unset is an absent key (a
missing feature, reported as such), never a silent zero. Nothing here judges values.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from google.protobuf.struct_pb2 import NULL_VALUE
from google.protobuf.timestamp_pb2 import Timestamp

from housing.config import FeatureSpec
from serving.grpc.generated import housing_pb2 as pb

_CALIFORNIA_FIELDS = tuple(field.name for field in pb.CaliforniaHouse.DESCRIPTOR.fields)


def feature_value(value: pb.FeatureValue) -> float | str | None:
    """A map value as JSON would carry it; no kind set means null, as documented in the proto."""
    kind = value.WhichOneof("kind")
    if kind == "number":
        return value.number
    if kind == "category":
        return value.category
    return None


def _as_json_number(value: Any, spec: FeatureSpec | None) -> Any:
    """Protobuf has one number type; JSON writes a whole number as an int. Give an int feature
    the int a JSON client would send, so strict validation judges both protocols alike (a
    fractional value stays a float and is refused as on HTTP)."""
    whole = isinstance(value, float) and math.isfinite(value) and value.is_integer()
    if whole and spec is not None and spec.type == "int":
        return int(value)
    return value


def house_record(house: pb.House, features: Mapping[str, FeatureSpec]) -> dict[str, Any]:
    """One house as an HTTP record. A typed California record cannot spell null, so its unset
    nullable fields are sent as null (the only way to say "unknown" there)."""
    kind = house.WhichOneof("record")
    if kind == "california":
        message = house.california
        record: dict[str, Any] = {
            name: getattr(message, name) for name in _CALIFORNIA_FIELDS if message.HasField(name)
        }
        for name, spec in features.items():
            if spec.nullable and name in _CALIFORNIA_FIELDS:
                record.setdefault(name, None)
    elif kind == "features":
        record = {name: feature_value(value) for name, value in house.features.values.items()}
    else:
        return {}
    return {name: _as_json_number(value, features.get(name)) for name, value in record.items()}


def house_records(
    houses: Iterable[pb.House], features: Mapping[str, FeatureSpec]
) -> list[dict[str, Any]]:
    return [house_record(house, features) for house in houses]


def feedback_items(items: Iterable[pb.FeedbackItem]) -> list[dict[str, Any]]:
    """Feedback items as HTTP items; an unset price is an absent key (reported as missing)."""
    result = []
    for item in items:
        record: dict[str, Any] = {"prediction_id": item.prediction_id}
        if item.HasField("actual_price"):
            record["actual_price"] = item.actual_price
        result.append(record)
    return result


def price_estimate(result: Mapping[str, Any]) -> pb.PriceEstimate:
    return pb.PriceEstimate(
        prediction_id=str(result["prediction_id"]),
        price=float(result["price"]),
        price_low=float(result["price_low"]),
        price_high=float(result["price_high"]),
        model_version=str(result["model_version"]),
    )


def feature_schema(name: str, spec: FeatureSpec) -> pb.FeatureSchema:
    schema = pb.FeatureSchema(
        name=name,
        type=spec.type,
        unit=spec.unit or "",
        categories=spec.categories or [],
        nullable=spec.nullable,
        description=spec.description,
    )
    if spec.min is not None and math.isfinite(spec.min):
        schema.min = spec.min
    if spec.max is not None and math.isfinite(spec.max):
        schema.max = spec.max
    return schema


def timestamp(value: datetime | str | None) -> Timestamp | None:
    """A protobuf Timestamp from a datetime or an ISO-8601 string; None if there is none (the
    full document, with the original text, is in ModelInfo.details_json anyway)."""
    if value is None or value == "":
        return None
    try:
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return None
    stamp = Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def house_message(record: Mapping[str, Any], *, typed: bool = True) -> pb.House:
    """The client side: a record (as an HTTP client would send it) as a ``House``; the typed
    California message when ``typed`` and every key is one of its fields, else the generic map.
    NaN and None are "unknown": left unset in the typed message, null in the map."""
    clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}
    if typed and set(clean) <= set(_CALIFORNIA_FIELDS):
        present = {k: v for k, v in clean.items() if v is not None}
        return pb.House(california=pb.CaliforniaHouse(**present))
    values = {}
    for name, value in clean.items():
        if value is None:
            values[name] = pb.FeatureValue(null=NULL_VALUE)
        elif isinstance(value, str):
            values[name] = pb.FeatureValue(category=value)
        else:
            values[name] = pb.FeatureValue(number=float(value))
    return pb.House(features=pb.FeatureRecord(values=values))
