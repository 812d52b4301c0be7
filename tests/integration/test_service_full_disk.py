"""A full disk under the state folder (journal and SQLite log): never silent, never a lie.

The state folder is a small tmpfs the test mounts and fills (a real ENOSPC for the journal and
a real "database or disk is full" for SQLite). Mounting needs root (or password-less sudo);
where neither is available the tests skip and say why: an unwritable folder is no stand-in,
because files a worker already holds open stay writable after a chmod (and root ignores it).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from housing.config import Settings
from tests.fixtures.serving import (
    LoadGenerator,
    RunningService,
    example_records,
    labelled,
    service_with_own_log,
    sqlite_log_url,
    wait_until_logged,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]
FILESYSTEM_SIZE = "8m"
FILL_CHUNK = 64 * 1024


def _mount_command() -> list[str] | None:
    if os.geteuid() == 0:
        return []
    if shutil.which("sudo") and subprocess.run(["sudo", "-n", "true"], check=False).returncode == 0:
        return ["sudo", "-n"]
    return None


@contextlib.contextmanager
def small_filesystem(path: Path) -> Iterator[Path]:
    prefix = _mount_command()
    if prefix is None:
        pytest.skip("mounting a tmpfs needs root or password-less sudo")
    path.mkdir(parents=True)
    mounted = subprocess.run(
        [*prefix, "mount", "-t", "tmpfs", "-o", f"size={FILESYSTEM_SIZE},mode=0777", "tmpfs",
         str(path)], capture_output=True, text=True, check=False,
    )  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run([*prefix, "umount", "-l", str(path)], check=False)


def fill(path: Path) -> None:
    """Write ``path`` until the file system is full."""
    with path.open("wb", buffering=0) as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * FILL_CHUNK)


def _wait(condition, timeout_s: float = 60.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


def _refused_prediction(
    service: RunningService, record: list[dict[str, object]], timeout_s: float = 30.0
) -> httpx.Response | None:
    """A prediction answered 503, trying new connections (each may reach another worker)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = service.on_new_connection("POST", "/predict", json={"houses": record})
        if answer.status_code == 503:
            return answer
    return None


@contextlib.contextmanager
def full_disk_under_load(
    settings: Settings, tmp_path: Path, policy: str
) -> Iterator[tuple[RunningService, LoadGenerator, str, Path]]:
    """A service whose log and journal live on a small disk, under load (200 answers in), at the
    moment that disk fills up: yields the service, its clients, the log URL and the state folder
    (``state / "filler"`` is the file that fills it)."""
    with (
        small_filesystem(tmp_path / "state") as state,
        service_with_own_log(
            settings,
            state,
            log_dir=tmp_path,  # the server's own log and metrics stay on the normal disk
            storage__spool_dir=state / "journal",
            storage__flush_interval_s=0.1,
            storage__retry_interval_s=0.3,
            storage__on_log_unavailable=policy,
            storage__unlogged_report_interval_s=1,
        ) as service,
        LoadGenerator(service.url, example_records(settings), clients=4, per_request=5) as load,
    ):
        load.wait_for_answers(200)
        fill(state / "filler")
        yield service, load, sqlite_log_url(state), state


def test_full_disk_under_refuse_answers_503_and_loses_nothing(
    champion_settings: Settings, tmp_path: Path
) -> None:
    record = example_records(champion_settings, count=1)
    with full_disk_under_load(champion_settings, tmp_path, "refuse") as (service, load, url, state):
        assert _wait(lambda: 503 in load.statuses), "a full disk must not be silent"
        assert _wait(lambda: not all(service.workers_readiness())), "readiness must turn false"
        refusal = _refused_prediction(service, record)
        assert refusal is not None, "a refusing worker must answer 503"
        assert "prediction log cannot store rows" in refusal.json()["error"]
        (state / "filler").unlink()
        assert _wait(lambda: all(service.workers_readiness())), (
            "readiness must come back once rows can be stored"
        )
        load.wait_for_answers(len(load.answered_ids) + 200)
        load.stop()
        metrics = service.metrics()
        answered = list(load.answered_ids)
        missing = wait_until_logged(url, answered)
        assert not missing, f"{len(missing)} of {len(answered)} answered predictions not logged"
        assert metrics.get("housing_log_rows_dropped_total", 0.0) == 0
        journal_full = {"target": "journal", "kind": "disk_full"}
        assert labelled(metrics, "housing_log_write_errors_total", **journal_full) > 0
        assert set(load.statuses) == {200, 503}


def test_full_disk_under_serve_keeps_answering_and_counts_every_unlogged_row(
    champion_settings: Settings, tmp_path: Path
) -> None:
    with full_disk_under_load(champion_settings, tmp_path, "serve") as (service, load, url, state):
        assert _wait(lambda: service.metrics().get("housing_log_rows_dropped_total", 0) > 0)
        assert all(service.workers_readiness()), "serve keeps every worker ready"
        (state / "filler").unlink()
        load.wait_for_answers(len(load.answered_ids) + 200)
        load.stop()
        assert set(load.statuses) == {200}
        answered = list(load.answered_ids)
        assert _wait(lambda: service.metrics()["housing_log_journal_rows"] == 0)
        missing = wait_until_logged(url, answered, timeout_s=5)
        dropped = service.metrics()["housing_log_rows_dropped_total"]
        assert dropped > 0
        assert len(missing) == dropped, "the drop counter must equal the unlogged answers"
        assert "NOT logged" in service.log_tail(400)
