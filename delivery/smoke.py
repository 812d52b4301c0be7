"""Smoke check of a running service, however it was started (container, Bento, dev server).

Calls what a user calls: HTTP predict on real rows of the configured dataset, feedback for one
of those predictions (bearer token), gRPC health and ``GetModel``, and ``/metrics``. Used by
``make container-smoke`` and by the Bento verification test, so both check the same things.

    python -m delivery.smoke --http http://127.0.0.1:3000 --grpc 127.0.0.1:3001
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import pandas as pd

from housing import exit_codes
from housing.config import ConfigError, Settings, load_config
from housing.tokens import feedback_token_value, token_sources

# A first start loads the model and warms it up: allow a cold container this long.
READY_TIMEOUT_S = 180.0
REQUEST_TIMEOUT_S = 30.0
SAMPLE_ROWS = 3
# Metrics a dashboard relies on: BentoML's request metrics and the service's own.
EXPECTED_METRICS = ("bentoml_service_request", "housing_predictions_total", "housing_batch_size")


class SmokeCheckError(AssertionError):
    """A check failed; the message says which and what was seen."""


@dataclass
class SmokeReport:
    model_version: str = ""
    prediction_ids: list[str] = field(default_factory=list)
    checks: list[str] = field(default_factory=list)


def sample_houses(settings: Settings, rows: int = SAMPLE_ROWS) -> list[dict[str, Any]]:
    """The first rows of the configured dataset as API records (missing values as null)."""
    frame = pd.read_csv(settings.dataset.path, nrows=rows)[settings.feature_names]
    records = []
    for record in frame.to_dict(orient="records"):
        clean = {}
        for key, value in record.items():
            if isinstance(value, float) and math.isnan(value):
                clean[key] = None
            elif settings.dataset.features[key].type == "int":
                clean[key] = int(value)
            else:
                clean[key] = value
        records.append(clean)
    return records


def wait_ready(http_url: str, timeout_s: float = READY_TIMEOUT_S) -> float:
    """Poll ``/readyz`` until 200; return the seconds it took."""
    started = time.monotonic()
    last = "no answer"
    while time.monotonic() - started < timeout_s:
        try:
            response = httpx.get(f"{http_url}/readyz", timeout=5)
            if response.status_code == 200:
                return time.monotonic() - started
            last = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            last = type(exc).__name__
        time.sleep(0.5)
    raise SmokeCheckError(f"{http_url}/readyz not ready after {timeout_s:.0f} s (last: {last})")


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise SmokeCheckError(message)


def check_predict(http_url: str, houses: list[dict[str, Any]], report: SmokeReport) -> None:
    response = httpx.post(f"{http_url}/predict", json={"houses": houses}, timeout=REQUEST_TIMEOUT_S)
    _expect(response.status_code == 200, f"predict: HTTP {response.status_code} {response.text}")
    results = response.json()
    _expect(len(results) == len(houses), f"predict: {len(results)} results for {len(houses)}")
    for result in results:
        _expect(
            0 < result["price_low"] <= result["price"] <= result["price_high"],
            f"predict: price outside its interval: {result}",
        )
    report.model_version = str(results[0]["model_version"])
    report.prediction_ids = [result["prediction_id"] for result in results]
    report.checks.append(f"HTTP predict: {len(results)} prices, model {report.model_version}")


def check_feedback(http_url: str, token: str, report: SmokeReport) -> None:
    body = {"items": [{"prediction_id": report.prediction_ids[0], "actual_price": 250000.0}]}
    denied = httpx.post(f"{http_url}/feedback", json=body, timeout=REQUEST_TIMEOUT_S)
    _expect(denied.status_code == 401, f"feedback without token: HTTP {denied.status_code}")
    response = httpx.post(
        f"{http_url}/feedback",
        json=body,
        headers={"Authorization": f"Bearer {token}"},
        timeout=REQUEST_TIMEOUT_S,
    )
    _expect(response.status_code == 200, f"feedback: HTTP {response.status_code} {response.text}")
    outcomes = [item["outcome"] for item in response.json()]
    _expect(outcomes == ["accepted"], f"feedback: outcomes {outcomes}")
    report.checks.append("HTTP feedback: 401 without token, accepted with it")


def check_grpc(grpc_target: str, report: SmokeReport) -> None:
    import grpc
    from grpc_health.v1 import health_pb2, health_pb2_grpc

    from serving.grpc.generated import housing_pb2, housing_pb2_grpc

    with grpc.insecure_channel(grpc_target) as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(
            health_pb2.HealthCheckRequest(service=""), timeout=REQUEST_TIMEOUT_S
        )
        _expect(
            health.status == health_pb2.HealthCheckResponse.SERVING,
            f"gRPC health: {health_pb2.HealthCheckResponse.ServingStatus.Name(health.status)}",
        )
        model = housing_pb2_grpc.PricePredictorStub(channel).GetModel(
            housing_pb2.GetModelRequest(), timeout=REQUEST_TIMEOUT_S
        )
    report.checks.append(f"gRPC health SERVING; GetModel version {model.model_version}")


def check_metrics(http_url: str, report: SmokeReport) -> None:
    text = httpx.get(f"{http_url}/metrics", timeout=REQUEST_TIMEOUT_S).text
    missing = [name for name in EXPECTED_METRICS if name not in text]
    _expect(not missing, f"/metrics lacks {missing}")
    report.checks.append(f"/metrics has {', '.join(EXPECTED_METRICS)}")


def run_smoke(
    settings: Settings, http_url: str, grpc_target: str, token: str, *, ready_timeout_s: float
) -> SmokeReport:
    """All checks in order; raises :class:`SmokeCheckError` at the first that fails."""
    report = SmokeReport()
    seconds = wait_ready(http_url, ready_timeout_s)
    report.checks.append(f"ready after {seconds:.1f} s")
    steps: list[Callable[[], None]] = [
        lambda: check_predict(http_url, sample_houses(settings), report),
        lambda: check_feedback(http_url, token, report),
        lambda: check_grpc(grpc_target, report),
        lambda: check_metrics(http_url, report),
    ]
    for step in steps:
        step()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m delivery.smoke", description=__doc__)
    parser.add_argument("--http", default="http://127.0.0.1:3000")
    parser.add_argument("--grpc", default="127.0.0.1:3001")
    parser.add_argument("--config", default=None)
    parser.add_argument("--ready-timeout", type=float, default=READY_TIMEOUT_S)
    args = parser.parse_args(argv)
    try:
        settings = load_config(args.config)
    except ConfigError as exc:
        return exit_codes.script_failure(exc, exit_codes.BAD_INPUT)
    token = feedback_token_value(settings)
    if not token:
        return exit_codes.script_failure(
            f"no feedback token: {token_sources(settings)}", exit_codes.BAD_INPUT
        )
    try:
        report = run_smoke(
            settings, args.http.rstrip("/"), args.grpc, token, ready_timeout_s=args.ready_timeout
        )
    except Exception as exc:  # a failed check, HTTP or gRPC error: one line, no traceback
        print(f"smoke FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
        return exit_codes.FAILURE
    for line in report.checks:
        print(f"ok  {line}")
    return exit_codes.HEALTHY


if __name__ == "__main__":
    sys.exit(main())
