"""Where the time of a 100-record request goes: a sampling profile of the real service under load.

    python -m benchmarks.profile_request                 # 100 records/request, 16 clients, 15 s
    python -m benchmarks.profile_request --records 1 --concurrency 64

Starts ``housing serve`` on the benchmark's state (``benchmarks/results/state``, trained once by
``benchmarks.serving``), drives it with ``wrk`` and records every thread of every worker with
``py-spy`` (``pip install py-spy``; needs ptrace, e.g. root). Each sample is put in the first
stage below whose marker appears in its stack, and the table gives each stage's share of all
samples of the workers (idle threads are not sampled), so the shares add up to 100% of the CPU
the workers used.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.serving import (
    HOUSING_CLI,
    RESULTS,
    ROOT,
    WRK_SCRIPT,
    benchmark_environ,
    sample_records,
    server_process,
    service_environ,
    write_bodies,
)
from support.processes import free_server_port

# (stage, markers): a marker is (function name or "", a piece of the file's path). Each sample is
# walked from its innermost frame outwards; the first frame that matches a marker decides.
STAGES: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    ("model: pipeline.predict", (("predict", "housing/pricing.py"),)),
    ("model frame construction", (("records_to_frame", ""), ("validated_records_frame", ""))),
    ("request decoding and validation", (("validate_json", ""), ("validate_python", ""),
                                         ("", "serving/schema.py"),
                                         ("", "housing/validation.py"))),
    ("features per record (model_dump)", (("model_dump", ""),)),
    ("answer encoding (JSON)", (("json_response", ""),)),
    ("prediction log: insert (writer thread)", (("_run", "store/prediction_log.py"),
                                                ("_drain", "store/prediction_log.py"),
                                                ("_write", "store/prediction_log.py"))),
    ("answers and log rows, log append", (("predict_records", ""),
                                          ("append", "store/prediction_log.py"),
                                          ("prediction_ids", ""))),
    ("metrics (prometheus_client)", (("", "serving/metrics.py"), ("", "prometheus_client"))),
    ("adaptive batcher hand-off", (("", "serving/batching.py"),)),
    ("HTTP server, BentoML/Starlette middleware", (("", "uvicorn"), ("", "h11"),
                                                    ("", "httptools"), ("", "starlette"),
                                                    ("", "bentoml"), ("", "serving/http.py"))),
)  # fmt: skip
OTHER = "event loop, threads and other"
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>.*?)(?::\d+)?\)$")


def classify(stack: str) -> str:
    for frame in reversed(stack.split(";")):
        match = _FRAME.match(frame.strip())
        if not match:
            continue
        function, path = match["function"].rsplit(".", 1)[-1], match["file"]
        for stage, markers in STAGES:
            if any((not f or f == function) and part in path for f, part in markers):
                return stage
    return OTHER


def profile_table(raw: Path) -> list[tuple[str, int, float]]:
    """(stage, samples, share %) from py-spy's raw (collapsed) output."""
    counts: Counter[str] = Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[classify(stack)] += int(count)
    total = sum(counts.values()) or 1
    return [
        (stage, counts[stage], round(100 * counts[stage] / total, 1))
        for stage in [*(stage for stage, _ in STAGES), OTHER]
        if counts[stage]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Profile the service (see module docstring)")
    parser.add_argument("--config", type=Path, default=ROOT / "configuration.yaml")
    parser.add_argument("--records", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--raw", type=Path, help="also keep py-spy's raw samples here")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists() or shutil.which("wrk") is None:
        raise SystemExit("needs py-spy (pip install py-spy) and wrk (apt-get install wrk)")
    config = args.config.resolve()
    environ = benchmark_environ(config)
    work = Path(tempfile.mkdtemp(prefix="profile-", dir=RESULTS))
    bodies = write_bodies(sample_records(config, 200 * args.records), args.records, work)
    script = work / "post.lua"
    script.write_text(WRK_SCRIPT % {"bodies": bodies})
    port = free_server_port()
    server_env = service_environ(environ, work, "service", port)
    raw = work / "profile.txt"
    command = [*HOUSING_CLI, "serve", "--no-train"]
    with server_process(command, server_env, port, work / "service.log") as url:
        wrk = ["wrk", "-t2", f"-c{args.concurrency}", "--timeout=30s", "-s", str(script)]
        subprocess.run([*wrk, "-d3s", f"{url}/predict"], capture_output=True, check=True)
        load = subprocess.Popen(
            [*wrk, f"-d{args.duration + 4}s", f"{url}/predict"], stdout=subprocess.PIPE
        )
        leader = _serve_pid(port)
        subprocess.run(
            [py_spy, "record", "--pid", str(leader), "--subprocesses", "--threads",
             "--format", "raw", "--rate", "200", "--duration", str(args.duration),
             "--output", str(raw), "--nonblocking"],
            capture_output=True, check=True,
        )  # fmt: skip
        output = load.communicate()[0].decode()
    print(output)
    print(
        f"Profile: {args.records} records/request, {args.concurrency} clients, "
        f"{args.duration} s, py-spy over every worker thread\n"
    )
    if args.raw:
        shutil.copy(raw, args.raw)
    print("| stage | samples | share |\n|---|---:|---:|")
    for stage, samples, share in profile_table(raw):
        print(f"| {stage} | {samples} | {share}% |")
    shutil.rmtree(work, ignore_errors=True)


def _serve_pid(port: int) -> int:
    """The PID of the process listening on ``port`` (the BentoML server leader)."""
    output = subprocess.run(
        ["ss", "-ltnpH", f"sport = :{port}"], capture_output=True, text=True, check=True
    ).stdout
    return int(output.split("pid=", 1)[1].split(",", 1)[0])


if __name__ == "__main__":
    main()
