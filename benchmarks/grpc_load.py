"""gRPC load generator for the serving benchmark: same houses, concurrencies and record counts as
the HTTP rows, so gRPC lands in the same table.

    python -m benchmarks.grpc_load --target 127.0.0.1:3001 --concurrency 1 16 64 --records 1 100

Closed loop: ``concurrency`` coroutines each send a request, wait for the answer, repeat, for
``duration`` seconds after a warm-up. The client is one asyncio process (grpc.aio) spreading the
callers over several channels so the kernel's SO_REUSEPORT balancing reaches every worker. It
runs on the same 2 cores as the service, so its own CPU is part of the measurement (the HTTP
rows use wrk, a C client: compare with that in mind).
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import grpc
import numpy as np
import pandas as pd

from housing.config import Settings, load_config
from serving.grpc.convert import house_message
from serving.grpc.generated import housing_pb2 as pb
from serving.grpc.generated import housing_pb2_grpc as pb_grpc

# Callers share channels (HTTP/2 connections) in groups of this size at most.
CALLERS_PER_CHANNEL = 8


@dataclass
class LoadResult:
    """One row of the benchmark table."""

    server: str
    concurrency: int
    records_per_request: int
    requests: int
    non_ok: int
    duration_s: float
    requests_per_s: float
    rows_per_s: float
    p50_ms: float
    p99_ms: float
    non_ok_codes: dict[str, int] = field(default_factory=dict)
    prediction_ids: list[str] = field(default_factory=list, repr=False)

    def row(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("prediction_ids")
        return data


def sample_houses(settings: Settings, count: int, seed: int) -> list[pb.House]:
    """``count`` real houses from the configured dataset, as proto records."""
    frame = pd.read_csv(settings.dataset.path, usecols=settings.feature_names)
    rows = frame.sample(n=min(count, len(frame)), random_state=seed).to_dict(orient="records")
    return [house_message(row) for row in rows]


@dataclass(frozen=True)
class Measurement:
    """How every (records, concurrency) combination of one table is measured."""

    duration_s: float
    warmup_s: float
    timeout_s: float
    server: str = "gRPC"


@dataclass
class _Window:
    """What every caller shares: the request mix, the measuring window and the tallies."""

    requests: Sequence[pb.PredictRequest]
    timeout_s: float
    measure_from: float
    stop_at: float
    latencies: list[float] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    failures: list[grpc.StatusCode] = field(default_factory=list)


async def _caller(stub: pb_grpc.PricePredictorStub, window: _Window, offset: int) -> None:
    index = offset
    while True:
        started = time.perf_counter()
        if started >= window.stop_at:
            return
        request = window.requests[index % len(window.requests)]
        index += 1
        measured = started >= window.measure_from
        try:
            response = await stub.Predict(request, timeout=window.timeout_s)
        except grpc.aio.AioRpcError as exc:
            if measured:
                window.failures.append(exc.code())
            continue
        if measured:
            window.latencies.append(time.perf_counter() - started)
            window.ids.extend(result.prediction_id for result in response.results)


async def run_load(
    target: str,
    houses: Sequence[pb.House],
    how: Measurement,
    *,
    concurrency: int,
    records_per_request: int,
) -> LoadResult:
    """Drive ``target`` closed-loop and measure only the calls started after the warm-up."""
    requests = [
        pb.PredictRequest(
            houses=[houses[(i + j) % len(houses)] for j in range(records_per_request)]
        )
        for i in range(0, len(houses), records_per_request)
    ]
    channel_count = max(1, -(-concurrency // CALLERS_PER_CHANNEL))
    channels = [grpc.aio.insecure_channel(target) for _ in range(channel_count)]
    stubs = [pb_grpc.PricePredictorStub(channel) for channel in channels]
    try:
        for channel in channels:
            await asyncio.wait_for(channel.channel_ready(), how.timeout_s)
        start = time.perf_counter()
        measure_from = start + how.warmup_s
        window = _Window(requests, how.timeout_s, measure_from, measure_from + how.duration_s)
        await asyncio.gather(
            *(_caller(stubs[i % channel_count], window, i * 7) for i in range(concurrency))
        )
        elapsed = time.perf_counter() - window.measure_from
    finally:
        for channel in channels:
            await channel.close()
    latencies, ids, failures = window.latencies, window.ids, window.failures
    answered = np.asarray(latencies) * 1000.0
    return LoadResult(
        server=how.server,
        concurrency=concurrency,
        records_per_request=records_per_request,
        requests=len(latencies),
        non_ok=len(failures),
        duration_s=round(elapsed, 2),
        requests_per_s=round(len(latencies) / elapsed, 1),
        rows_per_s=round(len(ids) / elapsed, 1),
        p50_ms=round(float(np.percentile(answered, 50)), 2) if len(answered) else float("nan"),
        p99_ms=round(float(np.percentile(answered, 99)), 2) if len(answered) else float("nan"),
        non_ok_codes=dict(Counter(code.name for code in failures)),
        prediction_ids=ids,
    )


def grpc_rows(
    target: str,
    settings: Settings,
    *,
    concurrencies: Sequence[int] = (1, 16, 64),
    record_counts: Sequence[int] = (1, 100),
    duration_s: float = 10.0,
    warmup_s: float = 3.0,
    seed: int = 42,
    server: str = "gRPC",
) -> list[LoadResult]:
    """Every (records, concurrency) combination against one running service, HTTP-table order."""
    houses = sample_houses(settings, 2000, seed)
    how = Measurement(duration_s, warmup_s, settings.service.request_timeout_s, server)
    return [
        asyncio.run(
            run_load(target, houses, how, concurrency=concurrency, records_per_request=records)
        )
        for records in record_counts
        for concurrency in concurrencies
    ]


def _codes(result: LoadResult) -> str:
    if not result.non_ok_codes:
        return ""
    return " (" + ", ".join(f"{n} {code}" for code, n in sorted(result.non_ok_codes.items())) + ")"


def markdown_table(results: Sequence[LoadResult]) -> str:
    lines = [
        "| server | records/request | concurrency | requests/s | rows/s | p50 ms | p99 ms "
        "| non-OK |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        lines.append(
            f"| {r.server} | {r.records_per_request} | {r.concurrency} | {r.requests_per_s:,.0f} "
            f"| {r.rows_per_s:,.0f} | {r.p50_ms} | {r.p99_ms} | {r.non_ok}{_codes(r)} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="gRPC rows of the serving benchmark")
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--target", default=None, help="host:port (default: configured grpc)")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--records", type=int, nargs="+", default=[1, 100])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=3.0)
    args = parser.parse_args(argv)
    settings = load_config(args.config)
    target = args.target or f"{settings.service.host}:{settings.service.grpc_port}"
    results = grpc_rows(
        target,
        settings,
        concurrencies=args.concurrency,
        record_counts=args.records,
        duration_s=args.duration,
        warmup_s=args.warmup,
    )
    print(markdown_table(results))


if __name__ == "__main__":
    main()
