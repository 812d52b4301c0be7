"""The feedback path: the true price of earlier predictions, stored before it is acknowledged.

Shared by HTTP and gRPC. A prediction answered a moment ago may still sit in a worker's log
buffer, so the worker first flushes its own buffer; ids still unknown are looked up once more
after one flush interval, by which time every other worker has flushed too.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from housing.config import Settings
from housing.store.database import LogDatabase, durable
from housing.store.feedback import FeedbackOutcome, PlausibleRange, record_feedback
from housing.store.prediction_log import PredictionLogWriter
from serving.auth import bearer_matches
from serving.errors import FieldViolation, InvalidRequest
from serving.metrics import ServingMetrics
from serving.schema import FeedbackItem, describe_errors


@dataclass(eq=False)
class FeedbackDesk:
    """Feedback checked, matched to its predictions and stored before it is acknowledged."""

    settings: Settings
    database: LogDatabase
    log: PredictionLogWriter
    metrics: ServingMetrics
    token: str | None = field(repr=False)
    _plausible: PlausibleRange = field(init=False, repr=False)
    _items: TypeAdapter[list[FeedbackItem]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        config = self.settings.service.feedback
        self._plausible = PlausibleRange(config.plausible_min, config.plausible_max)
        self._items = TypeAdapter(list[FeedbackItem])

    @property
    def enabled(self) -> bool:
        return self.settings.service.feedback.enabled

    def authorized(self, authorization: str | None) -> bool:
        return bearer_matches(authorization, self.token)

    def validate(self, items: Sequence[Mapping[str, Any]]) -> list[FeedbackItem]:
        limit = self.settings.service.feedback.max_items_per_request
        if not items:
            raise InvalidRequest([FieldViolation(None, "items", "at least one item is required")])
        if len(items) > limit:
            raise InvalidRequest(
                [FieldViolation(None, "items", f"at most {limit} items per request")]
            )
        try:
            return self._items.validate_python(list(items))
        except ValidationError as exc:
            raise InvalidRequest(
                [FieldViolation(i, f, r) for i, f, r in describe_errors(exc, root="items")]
            ) from None

    async def submit(self, items: Sequence[FeedbackItem], protocol: str) -> list[dict[str, Any]]:
        """Store the items; one ``{prediction_id, outcome, detail}`` per item, in order.

        Raises SQLAlchemyError when the database is unreachable: feedback is never acknowledged
        unless it is stored.
        """
        pairs = [(item.prediction_id, item.actual_price) for item in items]
        outcomes = await asyncio.to_thread(self._record, pairs)
        unknown = [i for i, outcome in enumerate(outcomes) if outcome.outcome == "unknown"]
        if unknown:
            # Other workers flush their buffers at least this often.
            await asyncio.sleep(self.settings.storage.flush_interval_s)
            retried = await asyncio.to_thread(self._record, [pairs[i] for i in unknown])
            for position, outcome in zip(unknown, retried, strict=True):
                outcomes[position] = outcome
        for outcome in outcomes:
            self.metrics.feedback.labels(outcome=outcome.outcome, protocol=protocol).inc()
        return [
            {"prediction_id": o.prediction_id, "outcome": o.outcome, "detail": o.detail}
            for o in outcomes
        ]

    def _record(self, pairs: list[tuple[str, float]]) -> list[FeedbackOutcome]:
        self.log.flush()
        # ready(): a replaced SQLite file is reconnected to (with its schema) before the lookup.
        return record_feedback(durable(self.database.ready()), pairs, self._plausible)
