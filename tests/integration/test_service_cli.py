"""``housing serve``: the README's first command, from an empty registry to answered requests."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
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
    environ = settings_env(
        tmp_path, service__port=free_server_port(), service__grpc_port=free_server_port()
    ) | {"HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN}
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


@contextlib.contextmanager
def _held_port() -> Iterator[int]:
    """A port another process (here: this one) listens on."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


@pytest.mark.parametrize(
    ("held", "setting", "variable"),
    [("port", "service.port", "HOUSING_SERVICE__PORT"),
     ("grpc_port", "service.grpc_port", "HOUSING_SERVICE__GRPC_PORT")],
    ids=["http", "grpc"],
)  # fmt: skip
def test_a_port_in_use_ends_start_up_with_one_line_naming_port_setting_and_variable(
    tmp_path: Path, held: str, setting: str, variable: str
) -> None:
    with _held_port() as port:
        ports = {"service__port": free_server_port(), "service__grpc_port": free_server_port()}
        ports[f"service__{held}"] = port
        environ = settings_env(tmp_path, **ports) | {"HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN}
        line = _refused_start_line(environ)
    assert f"port {port} on 127.0.0.1 is in use" in line
    assert setting in line and variable in line


def _refused_start_line(environ: dict[str, str]) -> str:
    """``housing serve`` must refuse within 20 s, exit 1, with exactly one line: that line."""
    started = time.monotonic()
    process = _serve(environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=60)
    assert time.monotonic() - started < 20
    assert process.returncode == 1, stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_an_unwritable_state_folder_ends_start_up_with_one_line(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    environ = settings_env(
        tmp_path,
        service__port=free_server_port(),
        service__grpc_port=free_server_port(),
        storage__spool_dir=blocker / "spool",
    ) | {"HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN}
    process = _serve(environ, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 1
    assert f"state folder {blocker / 'spool'} is not writable" in stderr
    assert "HOUSING_STORAGE__SPOOL_DIR" in stderr and "Traceback" not in stderr


def test_an_unreadable_model_store_ends_start_up_with_one_line(tmp_path: Path) -> None:
    """A store that cannot be listed even by root (here: a regular file where the models folder
    belongs) is named with its setting and variable before anything starts."""
    home = tmp_path / "bentoml"
    home.mkdir()
    (home / "models").write_text("not a folder")
    environ = settings_env(
        tmp_path,
        bentoml_home=home,
        service__port=free_server_port(),
        service__grpc_port=free_server_port(),
    ) | {"HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN}
    line = _refused_start_line(environ)
    assert f"model store {home / 'models'} cannot be read (it is not a folder)" in line
    assert "bentoml.home" in line and "HOUSING_BENTOML__HOME" in line


def test_bentoml_serve_with_the_grpc_port_in_use_exits_instead_of_crash_looping(
    tmp_path: Path,
) -> None:
    """``bentoml serve`` run directly (as in the image): the service's deployment hook stops
    it before any worker starts; no worker crash loop, no /readyz 200."""
    with _held_port() as grpc_port:
        port = free_server_port()
        environ = settings_env(tmp_path, service__port=port, service__grpc_port=grpc_port) | {
            "HOUSING_FEEDBACK_TOKEN": FEEDBACK_TOKEN,
            "BENTOML_HOME": str(tmp_path / "bentoml"),
        }
        started = time.monotonic()
        process = subprocess.Popen(
            [sys.executable, "-m", "bentoml", "serve", "service:HousingPriceService",
             "--working-dir", str(ROOT), "--host", "127.0.0.1", "--port", str(port)],
            cwd=ROOT, env=subprocess_env(environ), text=True, start_new_session=True,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        try:
            _, stderr = process.communicate(timeout=60)
        finally:
            stop_process(process, STOP_TIMEOUT_S)
        elapsed = time.monotonic() - started
    assert process.returncode == 1
    assert f"gRPC port {grpc_port} on 127.0.0.1 is in use" in stderr
    assert "HOUSING_SERVICE__GRPC_PORT" in stderr
    assert "Traceback" not in stderr
    assert elapsed < 20
