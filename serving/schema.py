"""Request and response models built from the configured feature schema.

The house record is generated from ``settings.dataset.features`` so that the API, its OpenAPI
document and the validation rules can never drift from the configuration the model was trained
with: numbers are strict (``"3.5"`` and ``true`` are refused), ranges come from ``min``/``max``,
categories are a closed set, only ``nullable`` features accept ``null``, and unknown fields are
errors. Pydantic reports violations with their location (``houses.3.median_income``), which is
what BentoML answers as HTTP 400 and what gRPC turns into INVALID_ARGUMENT.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, create_model

from housing.config import FeatureSpec, Settings
from housing.validation import conforming_records

_PYTHON_TYPES: dict[str, type] = {"float": float, "int": int}


def _field_type(spec: FeatureSpec) -> Any:
    if spec.type == "category":
        base: Any = Literal[tuple(spec.categories or ())]
        constraints: dict[str, Any] = {}
    else:
        base = _PYTHON_TYPES[spec.type]
        constraints = {"strict": True}
        if spec.min is not None:
            constraints["ge"] = spec.min
        if spec.max is not None:
            constraints["le"] = spec.max
        if spec.type == "float":
            constraints["allow_inf_nan"] = False
    annotated = Annotated[base, Field(description=spec.description, **constraints)]
    return annotated | None if spec.nullable else annotated


def house_record_model(settings: Settings) -> type[BaseModel]:
    """The pydantic model of one house, named ``HouseRecord`` in the OpenAPI document."""
    fields: dict[str, Any] = {}
    for name, spec in settings.dataset.features.items():
        # Nullable features may be sent as null or left out; the others are required.
        default = None if spec.nullable else ...
        fields[name] = (_field_type(spec), default)
    return create_model(  # type: ignore[call-overload]
        "HouseRecord",
        __config__=ConfigDict(extra="forbid", frozen=True),
        __doc__="One house (block group) with the configured features.",
        **fields,
    )


class PricePrediction(BaseModel):
    """One answer per record, in request order."""

    prediction_id: str = Field(description="quote it when you send feedback")
    price: float
    price_low: float = Field(description="lower end of the conformal prediction interval")
    price_high: float = Field(description="upper end of the conformal prediction interval")
    model_version: str = Field(description="champion version that produced this price")


class FeedbackItem(BaseModel):
    """The true price of an earlier prediction. Plausibility is judged per item, not here."""

    model_config = ConfigDict(extra="forbid")

    prediction_id: str = Field(min_length=1, max_length=64)
    actual_price: float = Field(strict=True)


class FeedbackResult(BaseModel):
    prediction_id: str
    outcome: Literal["accepted", "duplicate", "conflict", "unknown", "implausible"]
    detail: str | None = None


def records_adapter(record_model: type[BaseModel], max_records: int) -> TypeAdapter[Any]:
    """Validates a whole request's list of records (used by protocols other than HTTP)."""
    return TypeAdapter(
        Annotated[list[record_model], Field(min_length=1, max_length=max_records)]  # type: ignore[valid-type]
    )


class RecordsDecoder:
    """A JSON request body (``{"houses": [...]}``) to validated records, as plain dicts.

    The common case -- well-formed JSON whose records all obey the configured rules -- is
    decoded by msgspec and checked column by column (:func:`housing.validation.conforming_records`),
    with no pydantic model per record. Anything else goes through ``request_model``, the
    request's pydantic model (the one the OpenAPI document shows), whose ``ValidationError``
    names each record, field and reason: the error contract does not depend on the fast path.
    """

    def __init__(self, settings: Settings, request_model: type[BaseModel], key: str) -> None:
        self._settings = settings
        self._adapter = TypeAdapter(request_model)
        self._key = key
        self._max_records = settings.service.max_records_per_request
        self._json = msgspec.json.Decoder()

    def __call__(self, body: bytes) -> list[dict[str, Any]]:
        """Validated records; raises :class:`pydantic.ValidationError` for a bad request."""
        try:
            payload = self._json.decode(body)
        except msgspec.DecodeError:
            payload = None
        if type(payload) is dict and payload.keys() == {self._key}:
            records = payload[self._key]
            if isinstance(records, list) and len(records) <= self._max_records:
                conforming = conforming_records(records, self._settings)
                if conforming is not None:
                    return conforming
        request = self._adapter.validate_json(body)
        return [record.model_dump() for record in getattr(request, self._key)]


def describe_errors(error: ValidationError, root: str) -> list[tuple[int | None, str, str]]:
    """(record index, field, reason) for each violation; index None for the request itself."""
    described: list[tuple[int | None, str, str]] = []
    for item in error.errors(include_url=False, include_input=False, include_context=False):
        location = list(item["loc"])
        index = location.pop(0) if location and isinstance(location[0], int) else None
        field = ".".join(str(part) for part in location) or root
        described.append((index, field, item["msg"]))
    return described


def example_record(settings: Settings) -> dict[str, Any]:
    """A valid record (mid-range numbers, first category): model warm-up and API examples."""
    record: dict[str, Any] = {}
    for name, spec in settings.dataset.features.items():
        if spec.type == "category":
            record[name] = (spec.categories or [""])[0]
            continue
        low = spec.min if spec.min is not None else 0.0
        high = spec.max if spec.max is not None else low
        middle = (low + high) / 2
        record[name] = int(middle) if spec.type == "int" else float(middle)
    return record
