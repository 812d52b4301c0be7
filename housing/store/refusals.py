"""Records refused by validation, kept in the log database so the monitor can see them.

A request that breaks the configured schema is answered 400 (gRPC INVALID_ARGUMENT) and none
of its records reaches ``predictions``: a client with a unit bug would leave a log that looks
healthy. Each refused request leaves rows in ``refusals`` instead, one per (field, kind of
violation) with the number of records it covers, such that every refused record is counted
exactly once:

* a record with violations counts under its first one (``median_income``,
  ``less_than_equal``: pydantic's error type is the kind);
* a valid record refused with its request counts under ``kind = refused_with_request``;
* a violation of the request itself (no JSON, too many records) covers the records that have
  no violation of their own; a request without any readable record counts as one.

The rows take the prediction log's path (:class:`housing.store.prediction_log.
PredictionLogWriter` on its own journal ``refusals-*``): one journal write per refused request,
batched inserts in the background, replay after a crash. ``housing monitor`` reads them with
:func:`refused_between` and judges refused / (refused + logged) records.
"""

from __future__ import annotations

import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from housing.config import StorageConfig
from housing.store.database import LogDatabase
from housing.store.prediction_log import PredictionLogUnavailable, PredictionLogWriter
from housing.store.tables import refusals

logger = logging.getLogger(__name__)

WITH_REQUEST = "refused_with_request"
REQUEST_FIELD = "(request)"
RECORD_FIELD = "(record)"
_FIELD_CHARS = 128
_KIND_CHARS = 64


@dataclass(frozen=True)
class RefusedRecords:
    """Refused records of one (field, kind): the unit of a ``refusals`` row."""

    field: str
    kind: str
    records: int


def refused_records(
    errors: Iterable[Mapping[str, Any]], records: int, root: str | None = None
) -> list[RefusedRecords]:
    """Attribute the ``records`` of one refused request to reasons (see the module docstring).

    ``errors`` are pydantic's error dicts (``loc``, ``type``); a location starting with
    ``root`` and a record index (``("houses", 3, "median_income")``) or with the index alone
    (``(3, "median_income")``) is a record's violation, anything else the request's.
    """
    first_of_record: dict[int, tuple[str, str]] = {}
    request_reason: tuple[str, str] | None = None
    for error in errors:
        location = list(error.get("loc", ()))
        if root is not None and len(location) > 1 and location[0] == root:
            location.pop(0)
        kind = str(error.get("type", "invalid"))[:_KIND_CHARS]
        index = location[0] if location else None
        if isinstance(index, int) and not isinstance(index, bool) and 0 <= index < records:
            field = ".".join(str(part) for part in location[1:]) or RECORD_FIELD
            first_of_record.setdefault(index, (field[:_FIELD_CHARS], kind))
        elif request_reason is None:
            field = ".".join(str(part) for part in location) or REQUEST_FIELD
            request_reason = (field[:_FIELD_CHARS], kind)
    counts = Counter(first_of_record.values())
    rest = records - len(first_of_record)
    if rest > 0:
        counts[request_reason or ("", WITH_REQUEST)] += rest
    if not counts:
        counts[request_reason or (REQUEST_FIELD, "invalid")] += 1
    return [RefusedRecords(field, kind, count) for (field, kind), count in counts.items()]


class RefusalLog:
    """The refusals of one service worker, through a journaled writer of their own."""

    def __init__(self, storage: StorageConfig, database: LogDatabase) -> None:
        self._writer = PredictionLogWriter(
            storage, database=database, name="refusals", table=refusals
        )

    def start(self) -> RefusalLog:
        self._writer.start()
        return self

    def record(
        self, reasons: Sequence[RefusedRecords], model_version: str | None, protocol: str
    ) -> None:
        """Journal one refused request's rows; never raises (the 400 answer does not wait)."""
        now = datetime.now(UTC)
        rows = [
            {
                "refusal_id": str(uuid.uuid4()),
                "created_at": now,
                "model_version": model_version,
                "protocol": protocol,
                "field": reason.field,
                "kind": reason.kind,
                "records": reason.records,
            }
            for reason in reasons
        ]
        try:
            self._writer.append(rows)
        except PredictionLogUnavailable:
            logger.warning("refusals: %d rows not recorded (nothing can store them)", len(rows))

    def flush(self) -> bool:
        return self._writer.flush()

    def close(self) -> None:
        self._writer.close()


def refused_between(
    engine: Engine, since: datetime | None, until: datetime | None
) -> list[RefusedRecords]:
    """Refused records per (field, kind) with ``since <= created_at < until`` (either open),
    most first; empty when there are none or the table does not exist yet."""
    count = func.sum(refusals.c.records)
    query = select(refusals.c.field, refusals.c.kind, count).group_by(
        refusals.c.field, refusals.c.kind
    )
    if since is not None:
        query = query.where(refusals.c.created_at >= since.astimezone(UTC))
    if until is not None:
        query = query.where(refusals.c.created_at < until.astimezone(UTC))
    try:
        with engine.connect() as connection:
            rows = connection.execute(query.order_by(count.desc())).all()
    except SQLAlchemyError:
        return []
    return [RefusedRecords(field, kind, int(total)) for field, kind, total in rows]
