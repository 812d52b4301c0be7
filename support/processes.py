"""Local server processes for tests and benchmarks: a port to listen on, readiness, a clean stop.

Tests, the serving benchmark and the delivery checks all start real servers (``bentoml serve``,
``mlflow server``, a Bento's entrypoint) as child processes in their own session; these three
steps are the same for all of them and had drifted apart when written per caller.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx

# Below Linux's default ephemeral range (32768-60999) and above the usual well-known services.
SERVER_PORTS = (20000, 32000)
PORT_ATTEMPTS = 200
READY_POLL_S = 0.2
READY_REQUEST_TIMEOUT_S = 2.0
LOG_TAIL_CHARS = 4000


def free_server_port() -> int:
    """A free port below the kernel's ephemeral range, for a server to take.

    A port from ``bind(port 0)`` is an ephemeral one: between the probe and the server's own
    bind, any outgoing connection of the same machine (HTTP clients, gRPC channels, PostgreSQL)
    may take it as its local port, and the server then fails to start (seen with the gRPC port).
    Ports below the ephemeral range are never handed out that way.
    """
    low, high = SERVER_PORTS
    picker = random.SystemRandom()  # parallel runs must not walk the same sequence
    for _ in range(PORT_ATTEMPTS):
        port = picker.randrange(low, high)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {low}-{high}")


def wait_until_ready(
    url: str, process: subprocess.Popen[Any], log_path: Path, timeout_s: float
) -> None:
    """Poll ``/readyz`` until 200; fail early (with the log's tail) if the process exits."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = (
                log_path.read_text(errors="replace")[-LOG_TAIL_CHARS:] if log_path.exists() else ""
            )
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(f"{url}/readyz", timeout=READY_REQUEST_TIMEOUT_S).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(READY_POLL_S)
    raise TimeoutError(f"{url} not ready after {timeout_s:.0f} s")


def stop_process(
    process: subprocess.Popen[Any], timeout_s: float, *, whole_group: bool = False
) -> int:
    """SIGTERM, wait up to ``timeout_s``, then SIGKILL whatever is left of its process group.

    ``whole_group=False`` signals only the leader, as an orchestrator stops a server (the
    server then stops its own workers); ``True`` signals every process of the session, for
    servers whose leader does not forward the signal. Returns the leader's exit code.
    """
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if whole_group:
                os.killpg(process.pid, signal.SIGTERM)
            else:
                process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout_s)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)  # leftover workers, if any
    return process.wait()
