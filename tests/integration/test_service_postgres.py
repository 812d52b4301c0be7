"""The prediction log and feedback on a real PostgreSQL, including an outage and recovery."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from housing.config import Settings
from housing.store.tables import feedback
from tests.fixtures.serving import (
    LoadGenerator,
    TcpProxy,
    example_records,
    logged_prediction_ids,
    running_service,
)

pytestmark = [pytest.mark.postgres, pytest.mark.timeout(600)]


def test_predictions_and_feedback_are_stored_in_postgresql_through_an_outage(
    champion_settings: Settings, postgres_url: str, tmp_path: Path
) -> None:
    real = make_url(postgres_url)
    proxy = TcpProxy(real.host or "127.0.0.1", real.port or 5432)
    via_proxy = real.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    spool = tmp_path / "spool"
    records = example_records(champion_settings)
    try:
        with running_service(
            champion_settings,
            log_dir=tmp_path,
            storage__url=via_proxy,
            storage__spool_dir=spool,
            storage__flush_interval_s=0.1,
            storage__retry_interval_s=0.5,
        ) as service:
            answers = service.predict(records[:5])
            ids = [a["prediction_id"] for a in answers]
            response = service.feedback([{"prediction_id": ids[0], "actual_price": 321000.0}])
            assert response.json()[0]["outcome"] == "accepted", response.text

            proxy.cut()
            with LoadGenerator(service.url, records, clients=4) as load:
                load.wait_for_answers(150)
            assert set(load.statuses) == {200}
            # Feedback cannot be acknowledged while its store is down: 503, not a lie.
            down = service.feedback([{"prediction_id": ids[1], "actual_price": 1e5}])
            assert down.status_code == 503
            assert list(spool.glob("*.jsonl"))

            proxy.restore()
            during_outage = list(load.answered_ids)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if logged_prediction_ids(postgres_url, during_outage) == set(during_outage):
                    break
                time.sleep(0.3)
            assert logged_prediction_ids(postgres_url, during_outage) == set(during_outage)
            assert logged_prediction_ids(postgres_url, ids) == set(ids)
            again = service.feedback([{"prediction_id": ids[1], "actual_price": 1e5}])
            assert again.json()[0]["outcome"] == "accepted"
    finally:
        proxy.close()
    engine = create_engine(postgres_url)
    with engine.connect() as connection:
        stored = dict(
            connection.execute(
                select(feedback.c.prediction_id, feedback.c.actual_price).where(
                    feedback.c.prediction_id.in_(ids[:2])
                )
            ).all()
        )
    engine.dispose()
    assert stored == {ids[0]: 321000.0, ids[1]: 1e5}
