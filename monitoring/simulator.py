"""``housing simulate``: real HTTP traffic to a running service, so the loop can be watched.

Houses come from the held-out part of the dataset (rows no model trained on), shaped by a named
scenario from ``simulator.scenarios``: numeric features scaled (clipped to their configured
range so requests stay valid), categories re-weighted, and true prices multiplied when the
scenario says the market moved. After a delay, a seeded fraction of the predictions get their
true price back through ``POST /feedback`` with the token from the configured environment
variable -- exactly what a production system that learns sale prices later would do.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import numpy as np
import pandas as pd

from housing.config import ScenarioConfig, Settings
from housing.records import frame_to_records
from housing.tokens import feedback_token_value, token_sources

Progress = Callable[[int, int], None]


class SimulationError(RuntimeError):
    """The simulation cannot run (unknown scenario, no token, service unreachable)."""


@dataclass
class SimulationResult:
    scenario: str
    sent: int = 0
    answered: int = 0
    failed_requests: int = 0
    errors: Counter = field(default_factory=Counter)
    model_versions: Counter = field(default_factory=Counter)
    feedback_sent: int = 0
    feedback_outcomes: Counter = field(default_factory=Counter)
    seconds: float = 0.0

    def describe(self) -> str:
        versions = ", ".join(f"v{v}: {n}" for v, n in sorted(self.model_versions.items()))
        outcomes = ", ".join(f"{k}: {n}" for k, n in sorted(self.feedback_outcomes.items()))
        text = (
            f"scenario {self.scenario}: {self.answered}/{self.sent} houses priced"
            f" ({versions or 'none'}) in {self.seconds:.1f} s; "
            f"feedback for {self.feedback_sent} ({outcomes or 'none'})"
        )
        if self.failed_requests:
            text += f"; {self.failed_requests} requests failed ({dict(self.errors)})"
        return text


def held_out_houses(settings: Settings) -> pd.DataFrame:
    """The holdout rows of the configured split: features and the true price."""
    from training.data import load_training_data
    from training.pipeline import split_holdout

    data = load_training_data(settings)
    _, holdout = split_holdout(data.frame, settings)
    return holdout.reset_index(drop=True)


def apply_scenario(
    houses: pd.DataFrame, scenario: ScenarioConfig, settings: Settings, rows: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """``rows`` houses drawn (with replacement, seeded) and shaped by ``scenario``.

    Returns the feature frame and the true prices the scenario implies.
    """
    weights = np.ones(len(houses))
    for column, by_category in scenario.category_weights.items():
        weights *= houses[column].map(lambda value, w=by_category: w.get(value, 1.0)).to_numpy()
    if weights.sum() <= 0:
        raise SimulationError("the scenario's category weights leave no house to send")
    sample = houses.sample(n=rows, replace=True, weights=weights, random_state=seed)
    sample = sample.reset_index(drop=True)
    for column, factor in scenario.scale.items():
        spec = settings.dataset.features[column]
        sample[column] = (sample[column] * factor).clip(lower=spec.min, upper=spec.max)
    plausible = settings.service.feedback
    prices = (sample[settings.dataset.target] * scenario.price_factor).clip(
        plausible.plausible_min, plausible.plausible_max
    )
    return sample[settings.feature_names], prices.to_numpy(dtype=float)


def _predictions_of(body: Any) -> list[dict[str, Any]]:
    if isinstance(body, dict):
        body = body.get("predictions", body.get("results", []))
    return list(body)


def _post_batch(client: httpx.Client, records: list[dict]) -> tuple[list[dict] | None, str]:
    try:
        response = client.post("/predict", json={"houses": records})
    except httpx.HTTPError as exc:
        return None, type(exc).__name__
    if response.status_code != 200:
        return None, f"HTTP {response.status_code}"
    return _predictions_of(response.json()), ""


def _send_feedback(
    client: httpx.Client,
    items: list[dict[str, Any]],
    token: str | None,
    chunk: int,
    result: SimulationResult,
) -> None:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    for start in range(0, len(items), chunk):
        part = items[start : start + chunk]
        response = client.post("/feedback", json={"items": part}, headers=headers)
        if response.status_code != 200:
            raise SimulationError(
                f"POST /feedback answered HTTP {response.status_code}: {response.text[:200]}"
            )
        result.feedback_sent += len(part)
        for item in _predictions_of(response.json()):
            result.feedback_outcomes[str(item.get("outcome", item.get("status", "?")))] += 1


def simulate(
    settings: Settings,
    scenario_name: str,
    rows: int,
    *,
    url: str | None = None,
    feedback_fraction: float | None = None,
    feedback_delay_s: float | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
) -> SimulationResult:
    """Send ``rows`` houses of a scenario, then feedback for a fraction of them."""
    config = settings.simulator
    scenario = config.scenarios.get(scenario_name)
    if scenario is None:
        known = ", ".join(sorted(config.scenarios))
        raise SimulationError(f"unknown scenario '{scenario_name}' (configured: {known})")
    fraction = config.feedback_fraction if feedback_fraction is None else feedback_fraction
    delay = config.feedback_delay_s if feedback_delay_s is None else feedback_delay_s
    seed = config.seed if seed is None else seed
    token = feedback_token_value(settings)
    if fraction > 0 and not token and not settings.service.feedback.allow_unauthenticated:
        raise SimulationError(f"feedback needs a token: {token_sources(settings)}")
    base = url or config.url or f"http://{settings.service.host}:{settings.service.port}"
    houses, prices = apply_scenario(held_out_houses(settings), scenario, settings, rows, seed)
    records = frame_to_records(houses, settings.feature_names)
    size = config.records_per_request
    batches = [(i, records[i : i + size]) for i in range(0, len(records), size)]
    result = SimulationResult(scenario=scenario_name, sent=len(records))
    answered: dict[int, str] = {}
    started = time.perf_counter()
    with httpx.Client(base_url=base, timeout=config.timeout_s) as client:
        with ThreadPoolExecutor(max_workers=config.concurrency) as pool:
            futures = [(start, pool.submit(_post_batch, client, batch)) for start, batch in batches]
            for done, (start, future) in enumerate(futures, 1):
                predictions, error = future.result()
                if predictions is None:
                    result.failed_requests += 1
                    result.errors[error] += 1
                else:
                    for offset, prediction in enumerate(predictions):
                        answered[start + offset] = str(prediction["prediction_id"])
                        result.model_versions[str(prediction.get("model_version"))] += 1
                if progress:
                    progress(done, len(batches))
        result.answered = len(answered)
        if not answered and result.sent:
            raise SimulationError(
                f"the service at {base} answered none of {len(batches)} requests "
                f"({dict(result.errors)})"
            )
        rng = np.random.default_rng(seed)
        chosen = sorted(i for i in answered if rng.random() < fraction)
        if chosen:
            time.sleep(delay)
            items = [
                {"prediction_id": answered[i], "actual_price": round(float(prices[i]), 2)}
                for i in chosen
            ]
            chunk = settings.service.feedback.max_items_per_request
            _send_feedback(client, items, token, chunk, result)
    result.seconds = time.perf_counter() - started
    return result
