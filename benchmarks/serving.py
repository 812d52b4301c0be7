"""The serving benchmark: the Bento service, the same with its write-ahead journal off and with
batching off, and a challenge-style baseline, side by side on one machine and one model.

    python -m benchmarks.serving                      # or: make bench
    python -m benchmarks.serving --duration 5 --concurrency 64 --records 1

For every server and every (records per request, concurrency) pair it runs ``wrk`` (a C load
generator: one thread, closed loop, keep-alive) for a warm-up and then for ``--duration``
seconds, and reports requests/s, rows/s, p50/p99 latency, non-2xx answers, the mean adaptive
batch size (from the service's ``/metrics``) and whether every answered prediction reached the
log (rows logged during the run == rows answered). All state lives in
``benchmarks/results/state`` (the model is trained there once, with the configured
parameters); results go to ``benchmarks/results/serving-<time>.{md,json}`` and, with
``--write-docs``, between the markers in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from support.processes import free_server_port, stop_process, wait_until_ready

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DOCS = ROOT / "docs" / "benchmarks.md"
DOCS_BEGIN = "<!-- serving-benchmark:begin -->"
DOCS_END = "<!-- serving-benchmark:end -->"
TOKEN = "benchmark-token"
_HAS_CHAMPION = (
    "import sys; from housing.config import load_config; from housing.runtime import "
    "prepare_process; s = load_config(); prepare_process(s); "
    "from housing.registry import get_champion; sys.exit(0 if get_champion(s) else 3)"
)
HOUSING_CLI = (sys.executable, "-c", "from cli import app; app()")
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
# Different houses per request, so nothing is served from a lucky cache line.
DISTINCT_BODIES = 200
SEED = 42

_WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local bodies = {}
for line in io.lines("%(bodies)s") do bodies[#bodies + 1] = line end
local i = 0
request = function()
  i = i + 1
  return wrk.format(nil, nil, nil, bodies[(i %% #bodies) + 1])
end
"""


@dataclass
class Row:
    server: str
    protocol: str
    records_per_request: int
    concurrency: int
    requests: int
    requests_per_s: float
    rows_per_s: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    mean_batch: float | None
    rows_answered: int
    rows_logged: int | None

    @property
    def all_logged(self) -> str:
        if self.rows_logged is None:
            return "n/a"
        # wrk stops counting at the deadline; requests in flight then are answered (and
        # logged) but not counted, so the log may hold up to concurrency x records more.
        if self.rows_logged < self.rows_answered:
            return f"NO ({self.rows_logged}/{self.rows_answered})"
        return "yes"


# ----------------------------------------------------------------------------- environment


def base_environ(state: Path, config: Path) -> dict[str, str]:
    """Every piece of state in ``state`` (the tests' mechanism), this configuration."""
    from support.state import clean_environ, state_environ

    return (
        clean_environ()
        | state_environ(state)
        | {
            "BENTOML_HOME": str(state / "bentoml"),
            "BENTOML_DO_NOT_TRACK": "true",
            "HOUSING_CONFIG": str(config),
        }
    )


def ensure_champion(environ: dict[str, str]) -> None:
    """Train (with the configured parameters) unless this state already has a champion."""
    probe = subprocess.run(
        [sys.executable, "-c", _HAS_CHAMPION], env=environ, cwd=ROOT, check=False
    )
    if probe.returncode == 0:
        return
    print("training the benchmark model (configured parameters) ...", flush=True)
    subprocess.run(
        [*HOUSING_CLI, "train", "--reason", "serving benchmark"],
        env=environ, cwd=ROOT, check=True,
    )  # fmt: skip


@contextmanager
def server_process(
    command: Sequence[str], environ: dict[str, str], port: int, log: Path
) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            list(command), env=environ, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        wait_until_ready(url, process, log, READY_TIMEOUT_S)
        yield url
    finally:
        stop_process(process, STOP_TIMEOUT_S)


# ----------------------------------------------------------------------------- load


def sample_records(config: Path, count: int) -> list[dict[str, Any]]:
    from housing.config import load_config
    from support.records import dataset_records

    settings = load_config(config, environ={})
    return dataset_records(settings, count, seed=SEED, replace=True)


def write_bodies(records: list[dict[str, Any]], per_request: int, directory: Path) -> Path:
    path = directory / f"bodies-{per_request}.jsonl"
    with path.open("w") as handle:
        for index in range(DISTINCT_BODIES):
            start = index * per_request
            houses = [records[(start + k) % len(records)] for k in range(per_request)]
            handle.write(json.dumps({"houses": houses}) + "\n")
    return path


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(url: str, script: Path, concurrency: int, duration_s: float) -> dict[str, Any]:
    timeout = "30s"
    output = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{duration_s}s", "--latency", f"--timeout={timeout}",
         "-s", str(script), f"{url}/predict"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    requests = int(re.search(r"(\d+) requests in", output).group(1))  # type: ignore[union-attr]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                       output)  # fmt: skip
    return {
        "requests": requests,
        "seconds": duration_s,
        "p50_ms": _ms(re.search(r"^\s*50%\s+(\S+)\s*$", output, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": _ms(re.search(r"^\s*99%\s+(\S+)\s*$", output, re.M).group(1)),  # type: ignore[union-attr]
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(int(g) for g in errors.groups()) if errors else 0,
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
    }


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ----------------------------------------------------------------------------- log counts


def count_sqlite_rows(url: str) -> int:
    from sqlalchemy import create_engine, func, select

    from housing.store.tables import predictions

    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(select(func.count()).select_from(predictions)).scalar())
    except Exception:
        return 0
    finally:
        engine.dispose()


def logged_ids(url: str, ids: Sequence[str]) -> set[str]:
    from sqlalchemy import create_engine, select

    from housing.store.tables import predictions

    engine = create_engine(url)
    found: set[str] = set()
    try:
        with engine.connect() as connection:
            for start in range(0, len(ids), 500):
                query = select(predictions.c.prediction_id).where(
                    predictions.c.prediction_id.in_(list(ids[start : start + 500]))
                )
                found.update(connection.execute(query).scalars())
    finally:
        engine.dispose()
    return found


def settled_count(count: Any, timeout_s: float = 30.0) -> int:
    """The log count once it stops growing (the service flushes every flush_interval_s)."""
    previous, stable_since = -1, time.monotonic()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        current = count()
        if current != previous:
            previous, stable_since = current, time.monotonic()
        elif time.monotonic() - stable_since > 1.5:
            break
        time.sleep(0.25)
    return previous


def csv_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


# ----------------------------------------------------------------------------- scenarios


def measure(
    server: str,
    url: str,
    *,
    scripts: dict[int, Path],
    records: Sequence[int],
    concurrencies: Sequence[int],
    duration_s: float,
    warmup_s: float,
    log_count: Any,
    batching_metrics: bool,
) -> list[Row]:
    rows: list[Row] = []
    for per_request in records:
        for concurrency in concurrencies:
            run_wrk(url, scripts[per_request], concurrency, warmup_s)
            before = settled_count(log_count) if log_count else None
            batch_sum = metric(url, "housing_batch_size_sum") if batching_metrics else 0.0
            batch_count = metric(url, "housing_batch_size_count") if batching_metrics else 0.0
            result = run_wrk(url, scripts[per_request], concurrency, duration_s)
            mean_batch = None
            if batching_metrics:
                batches = metric(url, "housing_batch_size_count") - batch_count
                merged = metric(url, "housing_batch_size_sum") - batch_sum
                mean_batch = round(merged / batches, 1) if batches else None
            after = settled_count(log_count) if log_count else None
            ok = result["requests"] - result["non_2xx"]
            row = Row(
                server=server, protocol="HTTP", records_per_request=per_request,
                concurrency=concurrency, requests=result["requests"],
                requests_per_s=round(result["rps"], 1),
                rows_per_s=round(result["rps"] * per_request * ok / max(result["requests"], 1), 1),
                p50_ms=round(result["p50_ms"], 2), p99_ms=round(result["p99_ms"], 2),
                non_2xx=result["non_2xx"], socket_errors=result["socket_errors"],
                mean_batch=mean_batch, rows_answered=ok * per_request,
                rows_logged=None if before is None else after - before,
            )  # fmt: skip
            print(format_row(row), flush=True)
            rows.append(row)
    return rows


def format_row(r: Row) -> str:
    batch = "" if r.mean_batch is None else f"{r.mean_batch:g}"
    errors = f"{r.non_2xx}" + (f" (+{r.socket_errors} socket)" if r.socket_errors else "")
    return (
        f"| {r.server} | {r.protocol} | {r.records_per_request} | {r.concurrency} "
        f"| {r.requests_per_s:,.0f} | {r.rows_per_s:,.0f} | {r.p50_ms:g} | {r.p99_ms:g} "
        f"| {errors} | {batch} | {r.all_logged} |"
    )


TABLE_HEADER = (
    "| server | protocol | records/request | concurrency | requests/s | rows/s | p50 ms | p99 ms "
    "| non-2xx | mean batch | all logged |\n"
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"
)


def machine_description() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = os.getloadavg()
    return (
        f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}; load average at start "
        f"{load[0]:.2f}/{load[1]:.2f}/{load[2]:.2f}"
    )


def write_docs(markdown: str) -> None:
    text = DOCS.read_text() if DOCS.exists() else "# Benchmarks\n"
    block = f"{DOCS_BEGIN}\n{markdown}\n{DOCS_END}"
    if DOCS_BEGIN in text and DOCS_END in text:
        head, rest = text.split(DOCS_BEGIN, 1)
        tail = rest.split(DOCS_END, 1)[1]
        text = head + block + tail
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(text)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serving benchmark (see module docstring)")
    parser.add_argument("--config", type=Path, default=ROOT / "configuration.yaml")
    parser.add_argument("--servers", nargs="+",
                        default=["service", "no-journal", "no-batching", "baseline"],
                        choices=["service", "no-journal", "no-batching", "baseline"])  # fmt: skip
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--records", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--duration", type=int, default=10, help="seconds per row")
    parser.add_argument("--warmup", type=int, default=3, help="seconds before each row")
    parser.add_argument("--workers", type=int, default=None, help="override service.workers")
    parser.add_argument("--grpc", action="store_true", help="also gRPC rows (benchmarks.grpc_load)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    config = args.config.resolve()
    state = RESULTS / "state"
    state.mkdir(parents=True, exist_ok=True)
    environ = base_environ(state, config)
    ensure_champion(environ)
    started = datetime.now(UTC)
    machine = machine_description()
    records = sample_records(config, DISTINCT_BODIES * max(args.records))
    work = Path(tempfile.mkdtemp(prefix="serving-bench-", dir=RESULTS))
    scripts: dict[int, Path] = {}
    for per_request in args.records:
        bodies = write_bodies(records, per_request, work)
        script = work / f"post-{per_request}.lua"
        script.write_text(_WRK_SCRIPT % {"bodies": bodies})
        scripts[per_request] = script

    rows: list[Row] = []
    for server in args.servers:
        port = free_server_port()
        if server == "baseline":
            log = work / "baseline-log.csv"
            command = [sys.executable, "-m", "benchmarks.challenge_baseline", "--port", str(port),
                       "--log", str(log)]  # fmt: skip
            with server_process(command, environ, port, work / "baseline.log") as url:
                rows += measure(
                    "challenge-style baseline", url, scripts=scripts,
                    records=[r for r in args.records if r == 1],
                    concurrencies=args.concurrency, duration_s=args.duration,
                    warmup_s=args.warmup, log_count=lambda log=log: csv_lines(log),
                    batching_metrics=False,
                )  # fmt: skip
            continue
        db = f"sqlite:///{work / f'{server}-predictions.db'}"
        grpc_port = free_server_port()
        server_env = environ | {
            "HOUSING_STORAGE__URL": db,
            "HOUSING_STORAGE__SPOOL_DIR": str(work / f"{server}-spool"),
            "HOUSING_SERVICE__PORT": str(port),
            "HOUSING_SERVICE__GRPC_PORT": str(grpc_port),
            "HOUSING_FEEDBACK_TOKEN": TOKEN,
        }
        if args.workers:
            server_env["HOUSING_SERVICE__WORKERS"] = str(args.workers)
        if server == "no-batching":
            server_env["HOUSING_SERVICE__MAX_BATCH_SIZE"] = "1"
        if server == "no-journal":  # the cost of the write-ahead journal (storage.journal)
            server_env["HOUSING_STORAGE__JOURNAL"] = "false"
        label = {"service": "service", "no-journal": "service, journal off"}.get(
            server, "service, batching off"
        )
        command = [*HOUSING_CLI, "serve", "--no-train"]
        with server_process(command, server_env, port, work / f"{server}.log") as url:
            rows += measure(
                label, url, scripts=scripts, records=args.records,
                concurrencies=args.concurrency, duration_s=args.duration, warmup_s=args.warmup,
                log_count=lambda db=db: count_sqlite_rows(db), batching_metrics=True,
            )  # fmt: skip
            if args.grpc and server == "service":
                rows += grpc_measure(config, grpc_port, args, db, url)

    load_end = os.getloadavg()
    markdown = "\n".join([
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine}; at the end "
        f"{load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}.",
        f"Command: `python -m benchmarks.serving {' '.join(argv or sys.argv[1:])}` "
        f"(wrk 1 thread, {args.duration:g} s per row after a {args.warmup:g} s warm-up).",
        "",
        TABLE_HEADER,
        *(format_row(r) for r in rows),
    ])  # fmt: skip
    stamp = started.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"serving-{stamp}.md").write_text(markdown + "\n")
    (RESULTS / f"serving-{stamp}.json").write_text(
        json.dumps({"machine": machine, "rows": [asdict(r) for r in rows]}, indent=2)
    )
    print("\n" + markdown)
    if args.write_docs:
        write_docs(markdown)
    shutil.rmtree(work, ignore_errors=True)


def grpc_measure(config: Path, grpc_port: int, args: Any, db: str, url: str) -> list[Row]:
    """gRPC rows against the same running service (the load generator of benchmarks.grpc_load)."""
    from benchmarks.grpc_load import grpc_rows
    from housing.config import load_config

    settings = load_config(config, environ={})
    rows: list[Row] = []
    for per_request in args.records:
        for concurrency in args.concurrency:
            batch_sum = metric(url, "housing_batch_size_sum")
            batch_count = metric(url, "housing_batch_size_count")
            [result] = grpc_rows(
                f"127.0.0.1:{grpc_port}", settings, concurrencies=[concurrency],
                record_counts=[per_request], duration_s=args.duration, warmup_s=args.warmup,
            )  # fmt: skip
            batches = metric(url, "housing_batch_size_count") - batch_count
            merged = metric(url, "housing_batch_size_sum") - batch_sum
            settled_count(lambda: count_sqlite_rows(db))
            logged = len(logged_ids(db, result.prediction_ids))
            row = Row(
                server="service", protocol="gRPC", records_per_request=per_request,
                concurrency=concurrency, requests=result.requests,
                requests_per_s=result.requests_per_s, rows_per_s=result.rows_per_s,
                p50_ms=result.p50_ms, p99_ms=result.p99_ms, non_2xx=result.non_ok,
                socket_errors=0, mean_batch=round(merged / batches, 1) if batches else None,
                rows_answered=len(result.prediction_ids), rows_logged=logged,
            )  # fmt: skip
            print(format_row(row), flush=True)
            rows.append(row)
    return rows


if __name__ == "__main__":
    main()
