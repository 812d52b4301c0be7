import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class FeedbackOutcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    FEEDBACK_OUTCOME_UNSPECIFIED: _ClassVar[FeedbackOutcome]
    FEEDBACK_OUTCOME_ACCEPTED: _ClassVar[FeedbackOutcome]
    FEEDBACK_OUTCOME_DUPLICATE: _ClassVar[FeedbackOutcome]
    FEEDBACK_OUTCOME_CONFLICT: _ClassVar[FeedbackOutcome]
    FEEDBACK_OUTCOME_UNKNOWN_ID: _ClassVar[FeedbackOutcome]
    FEEDBACK_OUTCOME_IMPLAUSIBLE: _ClassVar[FeedbackOutcome]
FEEDBACK_OUTCOME_UNSPECIFIED: FeedbackOutcome
FEEDBACK_OUTCOME_ACCEPTED: FeedbackOutcome
FEEDBACK_OUTCOME_DUPLICATE: FeedbackOutcome
FEEDBACK_OUTCOME_CONFLICT: FeedbackOutcome
FEEDBACK_OUTCOME_UNKNOWN_ID: FeedbackOutcome
FEEDBACK_OUTCOME_IMPLAUSIBLE: FeedbackOutcome

class PredictRequest(_message.Message):
    __slots__ = ("houses",)
    HOUSES_FIELD_NUMBER: _ClassVar[int]
    houses: _containers.RepeatedCompositeFieldContainer[House]
    def __init__(self, houses: _Optional[_Iterable[_Union[House, _Mapping]]] = ...) -> None: ...

class House(_message.Message):
    __slots__ = ("california", "features")
    CALIFORNIA_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    california: CaliforniaHouse
    features: FeatureRecord
    def __init__(self, california: _Optional[_Union[CaliforniaHouse, _Mapping]] = ..., features: _Optional[_Union[FeatureRecord, _Mapping]] = ...) -> None: ...

class CaliforniaHouse(_message.Message):
    __slots__ = ("longitude", "latitude", "housing_median_age", "total_rooms", "total_bedrooms", "population", "households", "median_income", "ocean_proximity")
    LONGITUDE_FIELD_NUMBER: _ClassVar[int]
    LATITUDE_FIELD_NUMBER: _ClassVar[int]
    HOUSING_MEDIAN_AGE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_ROOMS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BEDROOMS_FIELD_NUMBER: _ClassVar[int]
    POPULATION_FIELD_NUMBER: _ClassVar[int]
    HOUSEHOLDS_FIELD_NUMBER: _ClassVar[int]
    MEDIAN_INCOME_FIELD_NUMBER: _ClassVar[int]
    OCEAN_PROXIMITY_FIELD_NUMBER: _ClassVar[int]
    longitude: float
    latitude: float
    housing_median_age: float
    total_rooms: float
    total_bedrooms: float
    population: float
    households: float
    median_income: float
    ocean_proximity: str
    def __init__(self, longitude: _Optional[float] = ..., latitude: _Optional[float] = ..., housing_median_age: _Optional[float] = ..., total_rooms: _Optional[float] = ..., total_bedrooms: _Optional[float] = ..., population: _Optional[float] = ..., households: _Optional[float] = ..., median_income: _Optional[float] = ..., ocean_proximity: _Optional[str] = ...) -> None: ...

class FeatureRecord(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: FeatureValue
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[FeatureValue, _Mapping]] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.MessageMap[str, FeatureValue]
    def __init__(self, values: _Optional[_Mapping[str, FeatureValue]] = ...) -> None: ...

class FeatureValue(_message.Message):
    __slots__ = ("number", "category", "null")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    NULL_FIELD_NUMBER: _ClassVar[int]
    number: float
    category: str
    null: _struct_pb2.NullValue
    def __init__(self, number: _Optional[float] = ..., category: _Optional[str] = ..., null: _Optional[_Union[_struct_pb2.NullValue, str]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[PriceEstimate]
    def __init__(self, results: _Optional[_Iterable[_Union[PriceEstimate, _Mapping]]] = ...) -> None: ...

class PriceEstimate(_message.Message):
    __slots__ = ("prediction_id", "price", "price_low", "price_high", "model_version")
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    PRICE_LOW_FIELD_NUMBER: _ClassVar[int]
    PRICE_HIGH_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    price: float
    price_low: float
    price_high: float
    model_version: str
    def __init__(self, prediction_id: _Optional[str] = ..., price: _Optional[float] = ..., price_low: _Optional[float] = ..., price_high: _Optional[float] = ..., model_version: _Optional[str] = ...) -> None: ...

class FeedbackRequest(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[FeedbackItem]
    def __init__(self, items: _Optional[_Iterable[_Union[FeedbackItem, _Mapping]]] = ...) -> None: ...

class FeedbackItem(_message.Message):
    __slots__ = ("prediction_id", "actual_price")
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    ACTUAL_PRICE_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    actual_price: float
    def __init__(self, prediction_id: _Optional[str] = ..., actual_price: _Optional[float] = ...) -> None: ...

class FeedbackResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[FeedbackResult]
    def __init__(self, results: _Optional[_Iterable[_Union[FeedbackResult, _Mapping]]] = ...) -> None: ...

class FeedbackResult(_message.Message):
    __slots__ = ("prediction_id", "outcome", "detail")
    PREDICTION_ID_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    prediction_id: str
    outcome: FeedbackOutcome
    detail: str
    def __init__(self, prediction_id: _Optional[str] = ..., outcome: _Optional[_Union[FeedbackOutcome, str]] = ..., detail: _Optional[str] = ...) -> None: ...

class GetModelRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ModelInfo(_message.Message):
    __slots__ = ("model_version", "bento_tag", "mlflow_run_id", "trained_at", "holdout_metrics", "features", "details_json")
    class HoldoutMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    BENTO_TAG_FIELD_NUMBER: _ClassVar[int]
    MLFLOW_RUN_ID_FIELD_NUMBER: _ClassVar[int]
    TRAINED_AT_FIELD_NUMBER: _ClassVar[int]
    HOLDOUT_METRICS_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    DETAILS_JSON_FIELD_NUMBER: _ClassVar[int]
    model_version: str
    bento_tag: str
    mlflow_run_id: str
    trained_at: _timestamp_pb2.Timestamp
    holdout_metrics: _containers.ScalarMap[str, float]
    features: _containers.RepeatedCompositeFieldContainer[FeatureSchema]
    details_json: str
    def __init__(self, model_version: _Optional[str] = ..., bento_tag: _Optional[str] = ..., mlflow_run_id: _Optional[str] = ..., trained_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., holdout_metrics: _Optional[_Mapping[str, float]] = ..., features: _Optional[_Iterable[_Union[FeatureSchema, _Mapping]]] = ..., details_json: _Optional[str] = ...) -> None: ...

class FeatureSchema(_message.Message):
    __slots__ = ("name", "type", "unit", "min", "max", "categories", "nullable", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    UNIT_FIELD_NUMBER: _ClassVar[int]
    MIN_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    NULLABLE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    type: str
    unit: str
    min: float
    max: float
    categories: _containers.RepeatedScalarFieldContainer[str]
    nullable: bool
    description: str
    def __init__(self, name: _Optional[str] = ..., type: _Optional[str] = ..., unit: _Optional[str] = ..., min: _Optional[float] = ..., max: _Optional[float] = ..., categories: _Optional[_Iterable[str]] = ..., nullable: _Optional[bool] = ..., description: _Optional[str] = ...) -> None: ...
