"""What the serving core answers besides a result, independent of the protocol that asked.

The core (prediction, feedback, champion, batching) raises these outcomes; each protocol maps
them to its own status with the one table below, so HTTP and gRPC cannot disagree:

=======================  ====  ==================
outcome                  HTTP  gRPC
=======================  ====  ==================
``InvalidRequest``       400   INVALID_ARGUMENT
``NoChampion``           503   UNAVAILABLE
``Overloaded``           503   UNAVAILABLE
store unavailable        503   UNAVAILABLE
log unavailable          503   UNAVAILABLE
anything else            500   INTERNAL
=======================  ====  ==================

"Store unavailable" is any ``SQLAlchemyError`` from a write the answer waits for (feedback is
acknowledged only once stored): retryable, and nothing was stored. "Log unavailable" is
:class:`housing.store.prediction_log.PredictionLogUnavailable`: neither the journal nor the
database can take the rows of an answer under the ``refuse`` policy, so nothing is answered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy.exc import SQLAlchemyError

from housing.store.prediction_log import PredictionLogUnavailable

STORE_UNAVAILABLE = "the feedback store is unavailable; nothing was stored"
# gRPC sends the status message as metadata, and clients refuse metadata over 16 KiB (the
# call then fails with RESOURCE_EXHAUSTED "Stream removed" instead of the status: 200 invalid
# records made 74 KB). A message lists violations up to this many bytes, then counts the rest.
MESSAGE_BUDGET_BYTES = 4096


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
    """The request breaks the configured schema: each violation names record, field, reason."""

    def __init__(self, violations: Sequence[FieldViolation]) -> None:
        self.violations = list(violations)
        super().__init__(summarize(self.violations))


def summarize(violations: Sequence[FieldViolation], budget: int = MESSAGE_BUDGET_BYTES) -> str:
    """The first violations that fit in ``budget`` bytes, then how many more there are."""
    listed: list[str] = []
    used = 0
    for violation in violations:
        text = violation.describe()
        if len(text) > budget // 4:  # one absurdly long field name or reason cannot fill it
            text = text[: budget // 4] + "..."
        if used + len(text.encode()) > budget and listed:
            break
        listed.append(text)
        used += len(text.encode()) + 2
    rest = len(violations) - len(listed)
    return "; ".join(listed) + (f"; and {rest} more violations" if rest else "")


class Unavailable(RuntimeError):  # noqa: N818 - an outcome (retry later), not a bug
    """The service cannot answer right now; the caller may retry."""


class NoChampion(Unavailable):
    """No model has been promoted yet (run ``housing train``)."""


class Overloaded(Unavailable):
    """The request waited longer than the configured maximum latency for a model call."""


class Status(NamedTuple):
    """How one protocol answers an outcome: HTTP status code, gRPC status-code name, message."""

    http: int
    grpc: str
    message: str


def status_of(exc: BaseException) -> Status:
    """The one mapping of an outcome to its HTTP and gRPC status (see the module table)."""
    if isinstance(exc, InvalidRequest):
        return Status(400, "INVALID_ARGUMENT", str(exc))
    if isinstance(exc, Unavailable | PredictionLogUnavailable):
        return Status(503, "UNAVAILABLE", str(exc))
    if isinstance(exc, SQLAlchemyError):
        return Status(503, "UNAVAILABLE", STORE_UNAVAILABLE)
    return Status(500, "INTERNAL", f"internal error ({type(exc).__name__}); see the server log")
