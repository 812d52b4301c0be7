"""The prediction log and feedback on a real PostgreSQL, including an outage and recovery."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.engine import make_url

from housing.config import Settings
from housing.store.tables import feedback
from support.processes import free_server_port
from tests.fixtures.serving import (
    LoadGenerator,
    TcpProxy,
    example_records,
    logged_prediction_ids,
    running_service,
    service_with_own_log,
    wait_until_logged,
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


# ----------------------------------------------------------------------------- server restart

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class ThrowawayCluster:
    """A PostgreSQL cluster of this test only (initdb in a temp dir, a free port), so it can
    be killed without touching the shared server. Runs as the ``postgres`` user when the test
    runs as root (initdb refuses root)."""

    def __init__(self, port: int) -> None:
        import tempfile

        self.port = port
        self.directory = Path(tempfile.mkdtemp(prefix="housing-pg-"))
        self.data = self.directory / "data"
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(PG_BIN / "initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres",
                  "--no-sync")  # fmt: skip

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(PG_BIN / "pg_ctl", "-D", str(self.data), "-o", options, "-w", "-l",
                  str(self.directory / "server.log"), "start")  # fmt: skip

    def kill(self) -> None:
        """What a crash does: no checkpoint, every connection dropped."""
        self._run(PG_BIN / "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run([*self._as, str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m",
                        "immediate", "stop"], capture_output=True, check=False)  # fmt: skip
        shutil.rmtree(self.directory, ignore_errors=True)

    def _run(self, *command: object) -> None:
        subprocess.run([*self._as, *map(str, command)], check=True, capture_output=True,
                       cwd=self.directory, timeout=120)  # fmt: skip


def test_postgresql_killed_and_restarted_under_load_loses_nothing(
    champion_settings: Settings, postgres_url: str, tmp_path: Path
) -> None:
    if not (PG_BIN / "initdb").exists() or (os.geteuid() == 0 and not shutil.which("runuser")):
        pytest.skip(f"needs PostgreSQL 15 binaries in {PG_BIN} (and runuser as root)")
    cluster = ThrowawayCluster(free_server_port())
    records = example_records(champion_settings)
    try:
        cluster.start()
        with service_with_own_log(
            champion_settings,
            tmp_path,
            storage__url=cluster.url,
            storage__spool_dir=tmp_path / "journal",
            storage__flush_interval_s=0.1,
            storage__retry_interval_s=0.5,
        ) as service:
            with LoadGenerator(service.url, records, clients=6, per_request=2) as load:
                load.wait_for_answers(200)
                cluster.kill()
                load.wait_for_answers(len(load.answered_ids) + 300)
                cluster.start()
                load.wait_for_answers(len(load.answered_ids) + 300)
            assert set(load.statuses) == {200}, "the journal keeps answers flowing"
            answered = list(load.answered_ids)
            missing = wait_until_logged(cluster.url, answered)
            assert not missing, f"{len(missing)} of {len(answered)} answered predictions lost"
            [answer] = service.predict(records[:1])
            response = service.feedback([{"prediction_id": answer["prediction_id"],
                                          "actual_price": 200000.0}])  # fmt: skip
            assert response.status_code == 200, response.text
            assert response.json()[0]["outcome"] == "accepted"
    finally:
        cluster.remove()
