"""The compose topology (deploy/compose.yaml) as native processes, since no Docker engine runs here.

PostgreSQL holds the prediction log and MLflow's backend store (two databases made by the test);
``mlflow server`` serves the registry and proxies artifacts; ``housing train`` registers the
champion through it; two ``bentoml serve`` replicas with *empty* BentoML stores load the champion
from MLflow and share the PostgreSQL log; traffic goes to both, feedback for replica A's answers
goes to replica B; ``housing monitor`` reads the shared log. Nothing may be lost, and the
figures must agree: each replica's counters, the database and the monitor's row counts.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from housing.store.tables import feedback, predictions
from support.processes import free_server_port, stop_process
from tests.fixtures.serving import example_records, running_service
from tests.fixtures.training import CONFIG, ROOT, make_settings, settings_env, subprocess_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

MLFLOW_READY_TIMEOUT_S = 120.0
MLFLOW_STOP_TIMEOUT_S = 30.0
CLI_TIMEOUT_S = 300
HOUSES = 480
FEEDBACK_SHARE = 0.6


@contextlib.contextmanager
def scratch_database(base_url: str, prefix: str) -> Iterator[str]:
    """A new, empty database on the test server (dropped afterwards); yields its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(base_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield make_url(base_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with contextlib.suppress(Exception), admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextlib.contextmanager
def mlflow_server(backend_url: str, workdir: Path) -> Iterator[str]:
    """``mlflow server`` on PostgreSQL with proxied artifacts, on 127.0.0.1; yields its URL."""
    port = free_server_port()
    log_path = workdir / "mlflow-server.log"
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "server",
        "--backend-store-uri", backend_url,
        "--artifacts-destination", str(workdir / "mlartifacts"),
        "--host", "127.0.0.1",
        "--port", str(port),
        "--workers", "2",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command,
            cwd=workdir,
            env=subprocess_env({}),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + MLFLOW_READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"mlflow server exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise TimeoutError(f"mlflow server not healthy:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        stop_process(process, MLFLOW_STOP_TIMEOUT_S, whole_group=True)


def housing_cli(args: list[str], environ: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).with_name("housing")), *args],
        cwd=ROOT,
        env=subprocess_env(environ),
        capture_output=True,
        text=True,
        timeout=CLI_TIMEOUT_S,
        check=False,
    )


def _houses(settings, count: int) -> pd.DataFrame:
    """The rows ``example_records(settings, count, seed=11)`` sends, with their true prices."""
    frame = pd.read_csv(settings.dataset.path).sample(count, random_state=11)
    return frame.reset_index(drop=True)


def test_two_replicas_share_the_postgres_log_and_the_mlflow_registry(
    postgres_url: str, tmp_path: Path
) -> None:
    with contextlib.ExitStack() as stack:
        log_url = stack.enter_context(scratch_database(postgres_url, "housing_scale_log"))
        mlflow_backend = stack.enter_context(scratch_database(postgres_url, "housing_scale_mlflow"))
        tracking_uri = stack.enter_context(mlflow_server(mlflow_backend, tmp_path))

        # The shared state: the compose stack's environment (deploy/compose.yaml x-housing-env).
        shared = {
            "mlflow__tracking_uri": tracking_uri,
            "mlflow__artifact_location": None,  # artifacts through the server
            "storage__url": log_url,
            "storage__flush_interval_s": 0.1,
        }
        trainer_env = settings_env(tmp_path / "trainer", **shared)
        trained = housing_cli(["train"], trainer_env)
        assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-2000:]

        replicas = []
        for name in ("a", "b"):
            state = tmp_path / f"replica-{name}"
            settings = make_settings(state, config=CONFIG, **shared)
            service = stack.enter_context(
                running_service(
                    settings,
                    log_dir=state,
                    env={"BENTOML_HOME": str(state / "empty-bentoml-home")},
                    bentoml__home=state / "empty-bentoml-home",
                    storage__flush_interval_s=0.1,
                )
            )
            replicas.append(service)
        a, b = replicas
        assert a.client.get("/model").json()["model_version"] == "1"
        assert b.client.get("/model").json()["model_version"] == "1"

        settings = make_settings(tmp_path / "checks", **shared)
        houses = _houses(settings, HOUSES)
        records = example_records(settings, HOUSES, seed=11)
        answered: dict[str, tuple[str, float]] = {}  # prediction id -> (replica, true price)
        per_replica = {"a": 0, "b": 0}
        for start in range(0, HOUSES, 8):
            chunk = records[start : start + 8]
            name, service = (("a", a), ("b", b))[(start // 8) % 2]
            for offset, answer in enumerate(service.predict(chunk)):
                true_price = float(houses.loc[start + offset, settings.dataset.target])
                answered[answer["prediction_id"]] = (name, true_price)
            per_replica[name] += len(chunk)

        # Feedback for replica A's answers through replica B and the other way round.
        labelled = list(answered.items())[: int(HOUSES * FEEDBACK_SHARE)]
        outcomes: list[str] = []
        for start in range(0, len(labelled), 50):
            items = labelled[start : start + 50]
            for replica_name, service in (("a", b), ("b", a)):
                batch = [
                    {"prediction_id": pid, "actual_price": price}
                    for pid, (origin, price) in items
                    if origin == replica_name
                ]
                if batch:
                    response = service.feedback(batch)
                    assert response.status_code == 200, response.text
                    outcomes += [item["outcome"] for item in response.json()]
        assert outcomes == ["accepted"] * len(labelled)

        counted = {
            "a": a.metrics().get('housing_predictions_total{model_version="1",protocol="http"}'),
            "b": b.metrics().get('housing_predictions_total{model_version="1",protocol="http"}'),
        }
        assert counted == {"a": per_replica["a"], "b": per_replica["b"]}

        # SIGTERM both replicas (as a rolling restart would): every buffered row is written.
        assert a.terminate() == 0
        assert b.terminate() == 0
        engine = create_engine(log_url)
        try:
            with engine.connect() as connection:
                stored = set(connection.execute(select(predictions.c.prediction_id)).scalars())
                labels = connection.execute(select(func.count()).select_from(feedback)).scalar()
        finally:
            engine.dispose()
        assert stored == set(answered)
        assert labels == len(labelled)

        monitor_env = settings_env(tmp_path / "monitor", **shared)
        monitored = housing_cli(["monitor", "--last", str(HOUSES * 2)], monitor_env)
        assert monitored.returncode in (0, 3), monitored.stdout[-2000:] + monitored.stderr[-2000:]
        summaries = sorted((tmp_path / "monitor" / "reports").rglob("summary.json"))
        assert len(summaries) == 1
        summary = json.loads(summaries[0].read_text())
        assert summary["rows"]["read"] == HOUSES
        assert summary["labelled"] == len(labelled)
        assert summary["model_version"] in (1, "1")
        expected_exit = 3 if summary["verdict"] in ("drift", "degraded") else 0
        assert monitored.returncode == expected_exit
