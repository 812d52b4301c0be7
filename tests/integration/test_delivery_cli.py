"""``housing containerize`` and ``housing ui`` as users run them: real subprocesses.

The machines these commands meet: a docker client whose daemon is down (a stub ``docker`` on
PATH that fails exactly like the real client does), and a terminal or supervisor that stops
``housing ui`` with SIGTERM.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from support.processes import free_server_port, stop_process
from tests.fixtures.training import subprocess_env

ROOT = Path(__file__).resolve().parents[2]
HOUSING = str(Path(sys.executable).parent / "housing")
TIMEOUT_S = 120
UI_READY_TIMEOUT_S = 90
DOCKER_WITHOUT_DAEMON = """#!/bin/sh
echo "Cannot connect to the Docker daemon at unix:///var/run/docker.sock. \
Is the docker daemon running?" >&2
exit 1
"""


def _containerize(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [HOUSING, "containerize", "housing_price_service:m1-g00000000", *args],
        env=subprocess_env({"PATH": str(path)}),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
        check=False,
    )


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert lines[0].startswith("error:")
    return lines[0]


def test_containerize_with_a_docker_client_but_no_daemon_says_why_and_how_to_fix(
    tmp_path,
) -> None:
    stub = tmp_path / "bin"
    stub.mkdir()
    (stub / "docker").write_text(DOCKER_WITHOUT_DAEMON, encoding="utf-8")
    (stub / "docker").chmod(0o755)

    line = _one_line(_containerize(stub))
    # Every builder tried, why each one is unusable, and the settings that fix it.
    assert "docker: the client is installed but no daemon answers" in line
    assert "Cannot connect to the Docker daemon" in line
    assert "podman: not installed" in line
    assert "buildah: not installed" in line
    assert "start the Docker daemon" in line
    assert "CONTAINERS_CONF=scripts/container/containers.conf" in line

    line = _one_line(_containerize(stub, "--backend", "docker"))
    assert "container backend 'docker' is not usable" in line
    assert "no daemon answers" in line
    assert "start the Docker daemon" in line


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1.0)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_sigterm_to_housing_ui_leaves_nothing_listening(tmp_path) -> None:
    workspace = tmp_path / "evidently"
    workspace.mkdir()
    port = free_server_port()
    log = (tmp_path / "ui.log").open("wb")
    process = subprocess.Popen(
        [HOUSING, "ui", "--port", str(port)],
        env=subprocess_env({"HOUSING_MONITORING__WORKSPACE_DIR": str(workspace)}),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group: whatever it starts is in it
    )
    try:
        deadline = time.monotonic() + UI_READY_TIMEOUT_S
        while not _listening(port):
            assert process.poll() is None, (tmp_path / "ui.log").read_text()
            assert time.monotonic() < deadline, "housing ui did not listen"
            time.sleep(0.3)
        process.send_signal(signal.SIGTERM)  # to `housing ui` only, as a supervisor does
        assert process.wait(timeout=30) is not None
        assert not _listening(port)
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # no process of the group is left (no orphaned child)
    finally:
        stop_process(process, 10, whole_group=True)
        log.close()
