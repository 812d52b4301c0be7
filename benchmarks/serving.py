"""The serving benchmark: the service against the systems a user would pick instead, side by side
on one machine with one fitted pipeline.

    python -m benchmarks.serving                      # or: make bench (BENCH_ARGS=--write-docs)
    python -m benchmarks.serving --servers service no-batching baseline --concurrency 1 16 64
    python -m benchmarks.serving --servers service shadow --records 1   # the cost of a shadow

By default it runs the service, Seldon MLServer and a default BentoML batchable service
(``benchmarks/peers.py``: each in its own process, MLServer in its own virtual environment
created from PyPI on first use) at 64 clients with 1 and 100 records per request. For every
server and every (records per request, concurrency) pair it runs ``wrk -t2`` (a C load
generator: closed loop, keep-alive) for a warm-up, drains the server (single requests until one
answers fast: wrk drops its in-flight requests at the end of a run while the server still works
on them), then measures for ``--duration`` seconds: requests/s, rows/s, p50/p99 latency,
non-2xx answers, the mean adaptive batch size (from the service's ``/metrics``) and whether
every answered prediction reached the log (rows logged during the run >= rows answered). Before
the load, every system prices the same houses and each price is compared with the offline
pipeline's (1e-6 relative). All state lives in ``benchmarks/results/state`` (the model is
trained there once, with the configured parameters); results go to
``benchmarks/results/serving-<time>.{md,json}`` and, with ``--write-docs``, between the markers
in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import hashlib
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

from benchmarks import peers
from support.prediction_log import logged_prediction_ids, logged_rows
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
_CHAMPION_VERSION = (
    "from housing.config import load_config; from housing.runtime import prepare_process; "
    "s = load_config(); prepare_process(s); "
    "from housing.registry import get_champion; print(get_champion(s).version)"
)
HOUSING_CLI = (sys.executable, "-c", "from cli import app; app()")
READY_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 60.0
# Different houses per request, so nothing is served from a lucky cache line.
DISTINCT_BODIES = 200
SEED = 42
# Correctness: every system prices these houses before its load runs.
CHECK_BODIES = 3
PRICE_RTOL = 1e-6
# Drain after the warm-up: single requests until one answers within this, for at most the limit.
DRAIN_FAST_S = 0.1
DRAIN_LIMIT_S = 30.0
# The shadow writes its gathered rows within service.shadow.max_wait_ms; wait at most this.
SHADOW_SETTLE_S = 10.0
WRK_THREADS = 2
MLSERVER = "mlserver"
SERVER_LABELS = {
    "service": "service",
    "no-journal": "service, journal off",
    "no-batching": "service, batching off",
    "shadow": "service + shadow",
    "baseline": "challenge-style baseline",
    "bentoml-default": "BentoML default batchable",
    MLSERVER: "Seldon MLServer",
}

WRK_SCRIPT = """
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
    prices_match: str = "n/a"

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


def model_code_digest() -> str:
    """sha256 of the code that pickles into a model (the core and the training package)."""
    digest = hashlib.sha256()
    for path in sorted([*ROOT.glob("housing/**/*.py"), *ROOT.glob("training/**/*.py")]):
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def benchmark_environ(config: Path) -> dict[str, str]:
    """The environment of the benchmark's state, with a champion trained into it if needed.

    The state is kept between runs, but a model pickled by other code may no longer predict
    (seen: a feature class that gained an attribute), so a change of that code starts afresh.
    """
    state = RESULTS / "state"
    stamp = RESULTS / "state.code-sha256"
    digest = model_code_digest()
    if state.exists() and (not stamp.exists() or stamp.read_text().strip() != digest):
        print("the model code changed since the benchmark model was trained: retraining")
        shutil.rmtree(state)
    state.mkdir(parents=True, exist_ok=True)
    environ = base_environ(state, config)
    ensure_champion(environ)
    stamp.write_text(digest + "\n")
    return environ


def service_environ(environ: dict[str, str], work: Path, name: str, port: int) -> dict[str, str]:
    """``housing serve`` on ``port`` with its own prediction log and spool in ``work``."""
    return environ | {
        "HOUSING_STORAGE__URL": f"sqlite:///{work / f'{name}-predictions.db'}",
        "HOUSING_STORAGE__SPOOL_DIR": str(work / f"{name}-spool"),
        "HOUSING_SERVICE__PORT": str(port),
        "HOUSING_SERVICE__GRPC_PORT": str(free_server_port()),
        "HOUSING_FEEDBACK_TOKEN": TOKEN,
    }


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


def champion_version(environ: dict[str, str]) -> str:
    probe = subprocess.run(
        [sys.executable, "-c", _CHAMPION_VERSION], env=environ, cwd=ROOT, check=True,
        capture_output=True, text=True,
    )  # fmt: skip
    return probe.stdout.strip().splitlines()[-1]


@contextmanager
def server_process(
    command: Sequence[str],
    environ: dict[str, str],
    port: int,
    log: Path,
    *,
    ready_path: str = "/readyz",
    whole_group: bool = False,
) -> Iterator[str]:
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as handle:
        process = subprocess.Popen(
            list(command), env=environ, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        if ready_path == "/readyz":
            wait_until_ready(url, process, log, READY_TIMEOUT_S)
        else:
            _wait_for(url + ready_path, process, log)
        yield url
    finally:
        stop_process(process, STOP_TIMEOUT_S, whole_group=whole_group)


def _wait_for(url: str, process: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-4000:]
            raise RuntimeError(f"server exited with {process.returncode}:\n{tail}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} not ready after {READY_TIMEOUT_S:.0f} s")


# ----------------------------------------------------------------------------- load


def sample_records(config: Path, count: int) -> list[dict[str, Any]]:
    from housing.config import load_config
    from support.records import dataset_records

    settings = load_config(config, environ={})
    return dataset_records(settings, count, seed=SEED, replace=True)


def write_bodies(
    records: list[dict[str, Any]],
    per_request: int,
    directory: Path,
    encode: Any = None,
    name: str = "houses",
) -> Path:
    """``DISTINCT_BODIES`` request bodies, one per line; ``encode(houses)`` writes a body."""
    encode = encode or (lambda houses: json.dumps({"houses": houses}))
    path = directory / f"bodies-{name}-{per_request}.jsonl"
    with path.open("w") as handle:
        for index in range(DISTINCT_BODIES):
            start = index * per_request
            houses = [records[(start + k) % len(records)] for k in range(per_request)]
            handle.write(encode(houses) + "\n")
    return path


def _ms(text: str) -> float:
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def run_wrk(
    url: str, script: Path, concurrency: int, duration_s: float, path: str = "/predict"
) -> dict[str, Any]:
    timeout = "30s"
    threads = min(WRK_THREADS, concurrency)
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration_s}s", "--latency",
         f"--timeout={timeout}", "-s", str(script), f"{url}{path}"],
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


def drain(url: str, path: str, body: str) -> None:
    """Single requests until one answers fast: the server has finished what wrk left behind."""
    deadline = time.monotonic() + DRAIN_LIMIT_S
    headers = {"Content-Type": "application/json"}
    with httpx.Client(timeout=60) as client:
        while time.monotonic() < deadline:
            started = time.monotonic()
            client.post(f"{url}{path}", content=body, headers=headers)
            if time.monotonic() - started < DRAIN_FAST_S:
                return


def check_prices(
    url: str, path: str, bodies: Sequence[str], expected: Sequence[float], body_format: str
) -> str:
    """Price the check houses and compare with the offline pipeline: "yes" or "NO (k/n)"."""
    answered: list[float] = []
    with httpx.Client(timeout=60) as client:
        for body in bodies:
            response = client.post(
                f"{url}{path}", content=body, headers={"Content-Type": "application/json"}
            )
            if response.status_code != 200:
                return f"NO (HTTP {response.status_code})"
            answered += peers.answer_prices(body_format, response.json())
    wrong = peers.price_mismatches(expected, answered, PRICE_RTOL)
    return "yes" if wrong == 0 else f"NO ({wrong}/{len(expected)})"


def metric(url: str, name: str) -> float:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


# ----------------------------------------------------------------------------- log counts


def count_sqlite_rows(url: str) -> int:
    """Rows in the log at ``url``; 0 before the service has created its table."""
    try:
        return logged_rows(url)
    except Exception:
        return 0


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
    path: str = "/predict",
    drain_bodies: dict[int, str] | None = None,
    prices_match: str = "n/a",
) -> list[Row]:
    rows: list[Row] = []
    for per_request in records:
        for concurrency in concurrencies:
            run_wrk(url, scripts[per_request], concurrency, warmup_s, path)
            if drain_bodies:
                drain(url, path, drain_bodies[per_request])
            before = settled_count(log_count) if log_count else None
            batch_sum = metric(url, "housing_batch_size_sum") if batching_metrics else 0.0
            batch_count = metric(url, "housing_batch_size_count") if batching_metrics else 0.0
            result = run_wrk(url, scripts[per_request], concurrency, duration_s, path)
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
                prices_match=prices_match,
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


def side_by_side(rows: Sequence[Row]) -> str:
    """One table: every system per (records, clients), with its ratio to MLServer's rows/s."""
    reference = {
        (r.records_per_request, r.concurrency): r.rows_per_s
        for r in rows
        if r.server == SERVER_LABELS[MLSERVER] and r.protocol == "HTTP"
    }
    lines = [
        "| system | records/request | clients | requests/s | rows/s | x MLServer | p50 ms "
        "| p99 ms | non-2xx | mean batch | prices = offline | all logged |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in sorted(rows, key=lambda r: (r.records_per_request, r.concurrency)):
        base = reference.get((r.records_per_request, r.concurrency))
        ratio = f"{r.rows_per_s / base:.2f}" if base else ""
        batch = "" if r.mean_batch is None else f"{r.mean_batch:g}"
        errors = f"{r.non_2xx}" + (f" (+{r.socket_errors} socket)" if r.socket_errors else "")
        lines.append(
            f"| {r.server} ({r.protocol}) | {r.records_per_request} | {r.concurrency} "
            f"| {r.requests_per_s:,.0f} | {r.rows_per_s:,.0f} | {ratio} | {r.p50_ms:g} "
            f"| {r.p99_ms:g} | {errors} | {batch} | {r.prices_match} | {r.all_logged} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serving benchmark (see module docstring)")
    parser.add_argument("--config", type=Path, default=ROOT / "configuration.yaml")
    parser.add_argument("--servers", nargs="+", default=["service", MLSERVER, "bentoml-default"],
                        choices=list(SERVER_LABELS))  # fmt: skip
    parser.add_argument("--concurrency", type=int, nargs="+", default=[64])
    parser.add_argument("--records", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--duration", type=int, default=15, help="seconds per row")
    parser.add_argument("--warmup", type=int, default=5, help="seconds before each row")
    parser.add_argument("--workers", type=int, default=None, help="override service.workers")
    parser.add_argument("--grpc", action="store_true", help="also gRPC rows (benchmarks.grpc_load)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (apt-get install wrk)")

    config = args.config.resolve()
    environ = benchmark_environ(config)
    started = datetime.now(UTC)
    machine = machine_description()
    records = sample_records(config, DISTINCT_BODIES * max(args.records))
    work = Path(tempfile.mkdtemp(prefix="serving-bench-", dir=RESULTS))
    from housing.config import load_config

    settings = load_config(config, environ={})
    columns = settings.feature_names
    categorical = {n for n, s in settings.dataset.features.items() if s.type == "category"}
    peer_features = {
        name: ("str" if name in categorical else "float", spec.nullable)
        for name, spec in settings.dataset.features.items()
    }
    largest = max(args.records)
    check_records = records[: CHECK_BODIES * largest]
    model_path, expected = peers.export_champion(environ, work / "export", check_records)
    body_formats = {
        "houses": None,
        "v2": lambda houses: peers.request_body("v2", houses, columns, categorical),
    }
    scripts: dict[str, dict[int, Path]] = {}
    first_bodies: dict[str, dict[int, str]] = {}
    check_bodies: dict[str, list[str]] = {}
    for name, encode in body_formats.items():
        scripts[name], first_bodies[name] = {}, {}
        for per_request in args.records:
            bodies = write_bodies(records, per_request, work, encode, name)
            script = work / f"post-{name}-{per_request}.lua"
            script.write_text(WRK_SCRIPT % {"bodies": bodies})
            scripts[name][per_request] = script
            first_bodies[name][per_request] = bodies.open().readline().strip()
        check_bodies[name] = [
            peers.request_body(name, check_records[i : i + largest], columns, categorical)
            for i in range(0, len(check_records), largest)
        ]

    print(TABLE_HEADER, flush=True)
    rows: list[Row] = []
    notes: list[str] = []
    for server in args.servers:
        port = free_server_port()
        label = SERVER_LABELS[server]
        if server == "baseline":
            log = work / "baseline-log.csv"
            command = [sys.executable, "-m", "benchmarks.challenge_baseline", "--port", str(port),
                       "--log", str(log)]  # fmt: skip
            with server_process(command, environ, port, work / "baseline.log") as url:
                rows += measure(
                    label, url, scripts=scripts["houses"],
                    records=[r for r in args.records if r == 1],
                    concurrencies=args.concurrency, duration_s=args.duration,
                    warmup_s=args.warmup, log_count=lambda log=log: csv_lines(log),
                    batching_metrics=False, drain_bodies=first_bodies["houses"],
                )  # fmt: skip
            continue
        if server in (MLSERVER, "bentoml-default"):
            peer = (
                peers.mlserver_peer(model_path, work, port, free_server_port(), free_server_port())
                if server == MLSERVER
                else peers.bentoml_peer(model_path, port, peer_features)
            )
            with server_process(
                peer.command, peer.environ, port, work / f"{server}.log",
                ready_path=peer.ready_path, whole_group=True,
            ) as url:  # fmt: skip
                fmt = peer.body_format
                match = check_prices(url, peer.predict_path, check_bodies[fmt], expected, fmt)
                rows += measure(
                    label, url, scripts=scripts[fmt], records=args.records,
                    concurrencies=args.concurrency, duration_s=args.duration,
                    warmup_s=args.warmup, log_count=None, batching_metrics=False,
                    path=peer.predict_path, drain_bodies=first_bodies[fmt], prices_match=match,
                )  # fmt: skip
            continue
        server_env = service_environ(environ, work, server, port)
        db = server_env["HOUSING_STORAGE__URL"]
        grpc_port = int(server_env["HOUSING_SERVICE__GRPC_PORT"])
        if args.workers:
            server_env["HOUSING_SERVICE__WORKERS"] = str(args.workers)
        if server == "no-batching":
            server_env["HOUSING_SERVICE__MAX_BATCH_SIZE"] = "1"
        if server == "no-journal":  # the cost of the write-ahead journal (storage.journal)
            server_env["HOUSING_STORAGE__JOURNAL"] = "false"
        if server == "shadow":  # the cost of shadow scoring: the champion again, as shadow
            server_env["HOUSING_SERVICE__SHADOW__VERSION"] = champion_version(environ)
        command = [*HOUSING_CLI, "serve", "--no-train"]
        with server_process(command, server_env, port, work / f"{server}.log") as url:
            match = check_prices(url, "/predict", check_bodies["houses"], expected, "houses")
            rows += measure(
                label, url, scripts=scripts["houses"], records=args.records,
                concurrencies=args.concurrency, duration_s=args.duration, warmup_s=args.warmup,
                log_count=lambda db=db: count_sqlite_rows(db), batching_metrics=True,
                drain_bodies=first_bodies["houses"], prices_match=match,
            )  # fmt: skip
            if args.grpc and server == "service":
                rows += grpc_measure(config, grpc_port, args, db, url)
            if server == "shadow":
                notes.append(shadow_note(url, label))

    load_end = os.getloadavg()
    markdown = "\n".join([
        f"Run {started:%Y-%m-%d %H:%M} UTC on {machine}; at the end "
        f"{load_end[0]:.2f}/{load_end[1]:.2f}/{load_end[2]:.2f}.",
        f"Command: `python -m benchmarks.serving {' '.join(argv or sys.argv[1:])}` "
        f"(wrk -t{WRK_THREADS}, {args.duration:g} s per row after a {args.warmup:g} s warm-up "
        "and a drain).",
        "",
        side_by_side(rows),
        *(["", *notes] if notes else []),
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


def shadow_note(url: str, label: str) -> str:
    """How much of the server's traffic the shadow priced (warm-up and drain included), once
    the rows it gathered have been written (``service.shadow.max_wait_ms``)."""
    deadline = time.monotonic() + SHADOW_SETTLE_S
    while True:
        scored = metric(url, "housing_shadow_rows_total")
        skipped = metric(url, "housing_shadow_skipped_rows_total")
        answered = metric(url, "housing_predictions_total")
        if scored + skipped >= answered or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    share = scored / answered if answered else 0.0
    return (
        f"{label}: the shadow priced {scored:,.0f} of {answered:,.0f} answered rows ({share:.1%}); "
        f"{skipped:,.0f} skipped (behind or failed)."
    )


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
            logged = len(logged_prediction_ids(db, result.prediction_ids))
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
