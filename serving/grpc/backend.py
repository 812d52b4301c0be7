"""What the gRPC servicer needs from the service: the HTTP prediction path, callable directly.

The servicer owns no validation, model or storage logic; it translates messages and calls an
object with this shape (the Bento service adapts itself to it), so both protocols share one
validator, one batching queue, one prediction log and one set of metrics.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from housing.config import FeatureSpec

PROTOCOL_LABEL = "grpc"


@dataclass(frozen=True)
class FieldViolation:
    """One reason a request was refused: which record (None for the request), field, why."""

    index: int | None
    field: str
    reason: str

    def describe(self) -> str:
        where = f"record {self.index}: " if self.index is not None else ""
        return f"{where}field '{self.field}': {self.reason}"


class InvalidRequest(ValueError):  # noqa: N818 - it is an outcome, as HTTP 4xx is
    """The request breaks the configured schema; HTTP answers 4xx, gRPC INVALID_ARGUMENT."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = list(violations)
        super().__init__("; ".join(violation.describe() for violation in self.violations))


class PredictionBackend(Protocol):
    """The prediction path of the service as seen by a second protocol."""

    @property
    def features(self) -> Mapping[str, FeatureSpec]:
        """The configured feature schema (drives the typed-record conversion)."""
        ...

    def model_ready(self) -> bool:
        """True when a champion model is loaded and predictions can be answered."""
        ...

    async def predict(
        self, records: list[dict[str, Any]], protocol: str
    ) -> list[Mapping[str, Any]]:
        """Validate like HTTP, then score through the batching path and log with ``protocol``.

        Returns one mapping per record with prediction_id, price, price_low, price_high,
        model_version. Raises InvalidRequest for bad input."""
        ...

    def feedback_authorized(self, authorization: str | None) -> bool:
        """Check an ``Authorization`` value (``Bearer <token>``) exactly as HTTP does."""
        ...

    async def submit_feedback(
        self, items: list[dict[str, Any]], protocol: str
    ) -> list[Mapping[str, Any]]:
        """Store feedback durably; one mapping per item: prediction_id, outcome (the HTTP
        outcome name) and optionally detail. Raises InvalidRequest for malformed items."""
        ...

    async def model_info(self) -> Mapping[str, Any]:
        """The document HTTP ``GET /model`` answers."""
        ...
