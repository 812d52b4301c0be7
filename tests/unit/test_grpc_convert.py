"""gRPC messages become exactly the records an HTTP JSON body would hold."""

from __future__ import annotations

from datetime import UTC, datetime

from google.protobuf.struct_pb2 import NULL_VALUE

from housing.config import FeatureSpec
from serving.grpc import convert
from serving.grpc.generated import housing_pb2 as pb

FEATURES = {
    "longitude": FeatureSpec(type="float"),
    "housing_median_age": FeatureSpec(type="float"),
    "total_bedrooms": FeatureSpec(type="float", nullable=True),
    "ocean_proximity": FeatureSpec(type="category", categories=["NEAR BAY", "INLAND"]),
    "CRIM": FeatureSpec(type="float"),
    "CHAS": FeatureSpec(type="int"),
    "RAD": FeatureSpec(type="int"),
}


def test_typed_california_record_keeps_only_the_fields_that_were_set() -> None:
    house = pb.House(california=pb.CaliforniaHouse(longitude=-122.23, ocean_proximity="NEAR BAY"))
    assert convert.house_record(house, FEATURES) == {
        "longitude": -122.23,
        "ocean_proximity": "NEAR BAY",
        "total_bedrooms": None,
    }


def test_an_explicit_zero_is_a_value_not_a_missing_field() -> None:
    house = pb.House(california=pb.CaliforniaHouse(housing_median_age=0.0, total_bedrooms=0.0))
    assert convert.house_record(house, FEATURES) == {
        "housing_median_age": 0.0,
        "total_bedrooms": 0.0,
    }


def test_generic_record_maps_each_value_kind_and_whole_numbers_of_int_features_to_int() -> None:
    house = pb.House(
        features=pb.FeatureRecord(
            values={
                "CRIM": pb.FeatureValue(number=0.00632),
                "CHAS": pb.FeatureValue(number=1),
                "RAD": pb.FeatureValue(number=2.5),
                "ZONE": pb.FeatureValue(category="residential"),
                "AGE": pb.FeatureValue(null=NULL_VALUE),
                "B": pb.FeatureValue(),
            }
        )
    )
    assert convert.house_record(house, FEATURES) == {
        "CRIM": 0.00632,
        "CHAS": 1,
        "RAD": 2.5,
        "ZONE": "residential",
        "AGE": None,
        "B": None,
    }


def test_a_house_with_no_record_is_an_empty_record() -> None:
    assert convert.house_record(pb.House(), FEATURES) == {}


def test_feedback_without_a_price_has_no_price_key() -> None:
    items = [
        pb.FeedbackItem(prediction_id="a", actual_price=250000.0),
        pb.FeedbackItem(prediction_id="b"),
    ]
    assert convert.feedback_items(items) == [
        {"prediction_id": "a", "actual_price": 250000.0},
        {"prediction_id": "b"},
    ]


def test_feature_schema_carries_bounds_only_when_configured() -> None:
    bounded = convert.feature_schema("median_income", FeatureSpec(type="float", min=0, max=20))
    assert bounded.HasField("min") and bounded.max == 20
    category = convert.feature_schema(
        "ocean_proximity", FeatureSpec(type="category", categories=["INLAND", "ISLAND"])
    )
    assert not category.HasField("min") and list(category.categories) == ["INLAND", "ISLAND"]


def test_timestamp_accepts_datetimes_and_iso_strings() -> None:
    moment = datetime(2026, 11, 27, 4, 30, tzinfo=UTC)
    assert convert.timestamp(moment).ToDatetime(tzinfo=UTC) == moment
    assert convert.timestamp(moment.isoformat()).ToDatetime(tzinfo=UTC) == moment
    assert convert.timestamp(None) is None
