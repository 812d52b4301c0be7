"""``housing serve``: the README's first command, from an empty registry to answered requests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from support.processes import free_server_port, stop_process, wait_until_ready
from tests.fixtures.serving import FEEDBACK_TOKEN, STOP_TIMEOUT_S
from tests.fixtures.training import ROOT, settings_env, subprocess_env

pytestmark = pytest.mark.timeout(600)
HOUSING = [sys.executable, "-c", "from cli import app; app()"]


def _serve(environ: dict[str, str], *args: str, **kwargs: object) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*HOUSING, "serve", *args], cwd=ROOT, env=subprocess_env(environ), text=True,
        start_new_session=True, **kwargs,  # type: ignore[arg-type]
    )  # fmt: skip


def test_serve_refuses_to_start_without_a_feedback_token(tmp_path: Path) -> None:
    environ = settings_env(tmp_path)
    process = _serve(environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "no feedback token: set $HOUSING_FEEDBACK_TOKEN or write it to" in stderr
    assert "Traceback" not in stderr


def test_serve_without_champion_and_no_train_is_a_clear_error(tmp_path: Path) -> None:
    environ = settings_env(tmp_path) | {"HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN}
    process = _serve(environ, "--no-train", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2
    assert "no champion model yet" in stderr


def test_serve_trains_a_first_champion_then_answers(tmp_path: Path) -> None:
    port = free_server_port()
    environ = settings_env(
        tmp_path, service__port=port, service__grpc_port=free_server_port(), service__workers=1
    ) | {"HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN}
    log = (tmp_path / "serve.log").open("w")
    process = _serve(environ, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, tmp_path / "serve.log", timeout_s=400)
        record = {
            "longitude": -122.23, "latitude": 37.88, "housing_median_age": 41,
            "total_rooms": 880, "total_bedrooms": 129, "population": 322,
            "households": 126, "median_income": 8.3252, "ocean_proximity": "NEAR BAY",
        }  # fmt: skip
        response = httpx.post(f"{url}/predict", json={"houses": [record]}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()[0]["model_version"] == "1"
    finally:
        exit_code = stop_process(process, STOP_TIMEOUT_S)
        log.close()
    assert exit_code == 0
    assert "No champion model yet: training one first." in (tmp_path / "serve.log").read_text()
