"""Recording the true price of earlier predictions, durably and exactly once per prediction.

The database decides what counts as "first": each item is one ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING`` that only inserts when the prediction exists and has no feedback yet, so
two requests racing for the same id (in any worker or replica) store exactly one value, on
SQLite and PostgreSQL alike. Whatever did not insert is then classified by reading back the
stored value: the same price again is an idempotent ``duplicate``, another price a ``conflict``,
no prediction at all ``unknown``. The transaction commits before any outcome is returned.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import Engine, literal, select

from housing.store.database import insert_ignoring_conflicts
from housing.store.tables import feedback, predictions

Outcome = Literal["accepted", "duplicate", "conflict", "unknown", "implausible"]
# Two floats that differ only by JSON round-tripping are the same price.
_SAME_PRICE_TOLERANCE = 1e-9


@dataclass(frozen=True)
class PlausibleRange:
    low: float
    high: float

    def reason_against(self, price: float) -> str | None:
        """Why a price cannot be a real sale price, or None when it is plausible."""
        if not math.isfinite(price):
            return "actual_price must be a finite number"
        if price <= 0:
            return "actual_price must be positive"
        if not self.low <= price <= self.high:
            bounds = f"[{self.low:g}, {self.high:g}]"
            return f"actual_price {price:g} is outside the plausible range {bounds}"
        return None


@dataclass(frozen=True)
class FeedbackOutcome:
    prediction_id: str
    outcome: Outcome
    detail: str | None = None


def record_feedback(
    engine: Engine,
    items: Sequence[tuple[str, float]],
    plausible: PlausibleRange,
    *,
    now: datetime | None = None,
) -> list[FeedbackOutcome]:
    """Store ``(prediction_id, actual_price)`` items; one outcome per item, in order."""
    now = now or datetime.now(UTC)
    outcomes: list[FeedbackOutcome | None] = [None] * len(items)
    pending: list[int] = []
    for position, (prediction_id, price) in enumerate(items):
        reason = plausible.reason_against(price)
        if reason is not None:
            outcomes[position] = FeedbackOutcome(prediction_id, "implausible", reason)
        else:
            pending.append(position)
    if pending:
        _store(engine, items, pending, outcomes, now)
    return [outcome for outcome in outcomes if outcome is not None]


def _store(
    engine: Engine,
    items: Sequence[tuple[str, float]],
    pending: list[int],
    outcomes: list[FeedbackOutcome | None],
    now: datetime,
) -> None:
    not_inserted: list[int] = []
    with engine.begin() as connection:
        # Writes first: on SQLite the first statement takes the write lock (waiting up to
        # busy_timeout) instead of upgrading a read snapshot, which could fail immediately.
        for position in pending:
            prediction_id, price = items[position]
            source = select(predictions.c.prediction_id, literal(float(price)), literal(now)).where(
                predictions.c.prediction_id == prediction_id
            )
            statement = (
                insert_ignoring_conflicts(engine, feedback)
                .from_select(["prediction_id", "actual_price", "received_at"], source)
                .returning(feedback.c.prediction_id)
            )
            # RETURNING, not rowcount: psycopg 3 reports -1 for INSERT ... SELECT.
            if connection.execute(statement).first() is not None:
                outcomes[position] = FeedbackOutcome(prediction_id, "accepted")
            else:
                not_inserted.append(position)
        if not not_inserted:
            return
        ids = sorted({items[position][0] for position in not_inserted})
        stored = dict(
            connection.execute(
                select(feedback.c.prediction_id, feedback.c.actual_price).where(
                    feedback.c.prediction_id.in_(ids)
                )
            ).all()
        )
    for position in not_inserted:
        prediction_id, price = items[position]
        if prediction_id not in stored:
            outcomes[position] = FeedbackOutcome(
                prediction_id, "unknown", "no prediction with this id"
            )
        elif math.isclose(stored[prediction_id], price, rel_tol=_SAME_PRICE_TOLERANCE):
            outcomes[position] = FeedbackOutcome(prediction_id, "duplicate", "already recorded")
        else:
            outcomes[position] = FeedbackOutcome(
                prediction_id,
                "conflict",
                f"feedback already recorded with actual_price {stored[prediction_id]:g}",
            )
