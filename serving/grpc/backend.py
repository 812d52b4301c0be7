"""What the gRPC servicer needs from the service: the HTTP prediction path, callable directly.

The servicer owns no validation, model or storage logic; it translates messages and calls an
object with this shape (the Bento service adapts itself to it), so both protocols share one
validator, one batching queue, one prediction log and one set of metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from housing.config import FeatureSpec

PROTOCOL_LABEL = "grpc"


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
        model_version. Raises ``serving.errors.InvalidRequest`` for bad input."""
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
