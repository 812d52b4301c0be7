"""Shadow scoring in a real serving core (real models, registry, SQLite log): the shadow is
started and stopped through the registry without a restart, prices the same prediction ids off
the response path, and never changes an answer."""

from __future__ import annotations

import asyncio
import time

from sqlalchemy import select

from housing import registry
from housing.store.tables import shadow_predictions
from serving.core import ServingCore
from support.records import dataset_records
from training.train import run_training

RECORDS = 300


def _shadow_rows(core: ServingCore, ids: list[str], timeout_s: float = 30.0) -> dict:
    query = select(shadow_predictions).where(shadow_predictions.c.prediction_id.in_(ids))
    deadline = time.monotonic() + timeout_s
    rows: dict = {}
    while time.monotonic() < deadline:
        with core.database.engine.connect() as connection:
            rows = {row.prediction_id: row for row in connection.execute(query)}
        skipped = sum(
            sample.value
            for metric in core.metrics.shadow_skipped.collect()
            for sample in metric.samples
            if sample.name.endswith("_total")
        )
        if len(rows) + skipped >= len(ids):
            break
        time.sleep(0.1)
    return rows


def _prices(answers: list) -> list[tuple]:
    return [(a["price"], a["price_low"], a["price_high"], a["model_version"]) for a in answers]


def test_shadow_prices_the_same_ids_and_never_alters_an_answer(training_settings) -> None:
    champion_settings = training_settings
    run_training(champion_settings, reason="champion")
    weaker = champion_settings.model_copy(deep=True)
    weaker.model.params["max_iter"] = 5  # a different model, so its prices differ
    run_training(weaker, force=True, reason="challenger for the shadow")
    registry.promote(champion_settings, 1, "the champion of this test")
    # Gather every record of the test into one shadow call (the deadline never fires first).
    shadow = champion_settings.service.shadow.model_copy(
        update={"batch_rows": RECORDS, "max_wait_ms": 60_000}
    )
    service = champion_settings.service.model_copy(update={"shadow": shadow})
    settings = champion_settings.model_copy(update={"service": service})
    core = ServingCore(settings, environ={settings.service.feedback.token_env: "t"}).start()
    try:
        records = dataset_records(settings, RECORDS)

        async def answer() -> list:
            # single-record requests, as concurrent clients send them, plus one large request
            singles = await asyncio.gather(*(core.predict([r], "http") for r in records))
            return [a for answers in singles for a in answers]

        before = asyncio.run(answer())
        assert core.shadow.current is None

        registry.set_shadow(settings, 2)
        core.watcher.check_now()  # the poll every worker runs
        assert core.shadow.current is not None and core.shadow.current.version == 2
        after = asyncio.run(answer())
        assert _prices(after) == _prices(before)  # the shadow never alters an answer
        assert {a["model_version"] for a in after} == {"1"}
        info = asyncio.run(core.model_info())
        assert info["model_version"] == "1" and info["shadow"]["model_version"] == "2"

        ids = [a["prediction_id"] for a in after]
        rows = _shadow_rows(core, ids)
        assert rows, "no shadow prices were logged"
        assert {row.shadow_version for row in rows.values()} == {"2"}
        # Many single-record model batches, priced by the shadow in one call and one insert.
        assert len({row.created_at for row in rows.values()}) == 1
        by_id = {a["prediction_id"]: a for a in after}
        differing = [i for i, row in rows.items() if row.price != by_id[i]["price"]]
        assert differing, "the shadow priced exactly like the champion: is it the same model?"
        assert all(row.price_low <= row.price <= row.price_high for row in rows.values())
        counted = sum(
            sample.value
            for metric in core.metrics.shadow_rows.collect()
            for sample in metric.samples
            if sample.name.endswith("_total") and sample.labels.get("shadow_version") == "2"
        )
        assert counted >= len(rows)

        registry.clear_shadow(settings)
        core.watcher.check_now()
        assert core.shadow.current is None
        stopped = asyncio.run(answer())
        assert _prices(stopped) == _prices(before)
        assert not _shadow_rows(core, [a["prediction_id"] for a in stopped], timeout_s=1.0)
    finally:
        core.stop()
