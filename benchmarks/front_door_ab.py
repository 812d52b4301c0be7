"""This tree's HTTP front door against an earlier commit's, side by side in one run.

Both services run at once from the same trained champion and the same configuration values
(each its own prediction log); wrk rows alternate between them (this, baseline, this, ...) so
the machine's load, which moves by the minute on shared cores, falls on both alike. The
baseline is ``git archive <ref>`` served with ``bentoml serve --working-dir`` from its own tree
(its own ``service.py``, ``serving/`` and ``housing/``; this environment's packages).

    python -m benchmarks.front_door_ab --baseline <commit> [--rounds 3] [--duration 10]

Prints one line per row and the medians per system and size, with the load averages at start
and end (docs/benchmarks.md, "One front door").
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from contextlib import ExitStack
from pathlib import Path

import httpx

from benchmarks.serving import (
    DISTINCT_BODIES,
    RESULTS,
    ROOT,
    WRK_SCRIPT,
    benchmark_environ,
    drain,
    run_wrk,
    sample_records,
    server_process,
    service_environ,
    write_bodies,
)
from support.processes import free_server_port


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _baseline_tree(ref: str, work: Path) -> Path:
    archive = subprocess.run(["git", "archive", ref], cwd=ROOT, capture_output=True, check=True)
    tree = work / "baseline"
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(tree, filter="data")
    return tree


def _serve_command(tree: Path, port: int) -> list[str]:
    return [sys.executable, "-m", "bentoml", "serve", "service:HousingPriceService",
            "--working-dir", str(tree), "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git ref of the baseline")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=10, help="seconds per row")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--records", type=int, nargs="+", default=[1, 100])
    args = parser.parse_args(argv)

    config = ROOT / "configuration.yaml"
    environ = benchmark_environ(config)
    work = Path(tempfile.mkdtemp(prefix="front-door-", dir=RESULTS))
    # Outside the project: a second service.py under it would be packed into Bentos built here.
    outside = Path(tempfile.mkdtemp(prefix="front-door-baseline-"))
    trees = {"this": ROOT, "baseline": _baseline_tree(args.baseline, outside)}
    records = sample_records(config, DISTINCT_BODIES * max(args.records))
    scripts, first = {}, {}
    for per_request in args.records:
        bodies = write_bodies(records, per_request, work)
        scripts[per_request] = work / f"post-{per_request}.lua"
        scripts[per_request].write_text(WRK_SCRIPT % {"bodies": bodies})
        first[per_request] = bodies.open().readline().strip()
    print(f"load average at start: {_load()}", flush=True)
    results: dict[tuple[str, int], list[tuple[float, float, int]]] = {}
    with ExitStack() as stack:
        urls = {}
        for name, tree in trees.items():
            port = free_server_port()
            server_env = service_environ(environ, work, name, port)
            server_env["HOUSING_CONFIG"] = str(tree / "configuration.yaml")
            # State paths the baseline's configuration may not know are left out for it.
            server_env.pop("HOUSING_SERVICE__FEEDBACK__TOKEN_FILE", None)
            server_env["OMP_NUM_THREADS"] = "1"
            urls[name] = stack.enter_context(
                server_process(_serve_command(tree, port), server_env, port, work / f"{name}.log")
            )
            any_body = first[args.records[0]]
            answer = httpx.post(urls[name] + "/predict", content=any_body,
                                headers={"Content-Type": "text/plain"}, timeout=30)  # fmt: skip
            print(f"{name} ({tree}): text/plain POST /predict -> {answer.status_code}", flush=True)
        for round_index in range(args.rounds):
            for per_request in args.records:
                order = list(urls) if round_index % 2 == 0 else list(reversed(urls))
                for name in order:
                    url = urls[name]
                    run_wrk(url, scripts[per_request], args.concurrency, args.warmup)
                    drain(url, "/predict", first[per_request])
                    result = run_wrk(url, scripts[per_request], args.concurrency, args.duration)
                    row = (result["rps"], result["p99_ms"], result["non_2xx"])
                    results.setdefault((name, per_request), []).append(row)
                    print(f"round {round_index + 1} {name:8} {per_request:4} records: "
                          f"{row[0]:8.1f} req/s {row[0] * per_request:9.0f} rows/s "
                          f"p99 {row[1]:7.1f} ms non-2xx {row[2]}  load {_load()}",
                          flush=True)  # fmt: skip
    print(f"load average at end: {_load()}")
    print("| system | records/request | clients | median req/s | median rows/s | median p99 ms "
          "| non-2xx | rows |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---|")
    for (name, per_request), rows in results.items():
        rps = statistics.median(r[0] for r in rows)
        p99 = statistics.median(r[1] for r in rows)
        print(f"| {name} | {per_request} | {args.concurrency} | {rps:,.0f} | "
              f"{rps * per_request:,.0f} | {p99:.0f} | {sum(r[2] for r in rows)} | "
              f"{', '.join(f'{r[0]:.0f}' for r in rows)} |")  # fmt: skip


if __name__ == "__main__":
    os.environ.setdefault("BENTOML_DO_NOT_TRACK", "true")
    main()
