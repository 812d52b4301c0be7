"""Interval coverage judged out of fold on the training part, never on the holdout.

A fixed holdout of ~100 rows (Boston) cannot tell a miscalibrated interval from a lucky draw,
and tuning the interval on it would make its figure meaningless. This runs K outer folds over
the training part: each fits and calibrates with the real path (``cross_validation`` +
``fit_pricing_model``, i.e. CV+ on the other folds) and counts the coverage of its own rows.
Variants are chosen with the usual ``HOUSING_*`` overrides, e.g.

    HOUSING_INTERVALS__METHOD=absolute .venv/bin/python scripts/oof_coverage.py \\
        examples/boston/configuration.yaml

Prints one JSON line: out-of-fold coverage with its Wilson 95% interval, mean width, and the
holdout figures of the model ``housing train`` would ship (reported, not used for choosing).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
from sklearn.model_selection import KFold
from threadpoolctl import threadpool_limits

from housing.config import load_config
from training.data import load_training_data
from training.pipeline import cross_validation, evaluate, fit_pricing_model, split_holdout


def wilson(inside: int, rows: int, z: float = 1.96) -> tuple[float, float]:
    share = inside / rows
    centre = (share + z * z / (2 * rows)) / (1 + z * z / rows)
    spread = z * math.sqrt(share * (1 - share) / rows + z * z / (4 * rows * rows))
    return centre - spread / (1 + z * z / rows), centre + spread / (1 + z * z / rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("config", help="configuration file (HOUSING_* overrides apply)")
    parser.add_argument("--outer-folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7, help="seed of the outer folds")
    args = parser.parse_args()
    settings = load_config(args.config)
    target = settings.dataset.target
    train, holdout = split_holdout(load_training_data(settings).frame, settings)
    started = time.perf_counter()
    inside: list[np.ndarray] = []
    widths: list[np.ndarray] = []
    with threadpool_limits(settings.model.threads):
        outer = KFold(args.outer_folds, shuffle=True, random_state=args.seed)
        for fit_rows, test_rows in outer.split(train):
            part, test = train.iloc[fit_rows], train.iloc[test_rows]
            pricing = fit_pricing_model(settings, part, cross_validation(settings, part))
            estimates = pricing.predict(test)
            actual = test[target].to_numpy(dtype=float)
            inside.append((actual >= estimates.low) & (actual <= estimates.high))
            widths.append(estimates.high - estimates.low)
        cv = cross_validation(settings, train)
        shipped = evaluate(fit_pricing_model(settings, train, cv), holdout, target)
    covered = np.concatenate(inside)
    low, high = wilson(int(covered.sum()), len(covered))
    report = {
        "oof_coverage": round(float(covered.mean()), 4),
        "oof_wilson95": [round(low, 3), round(high, 3)],
        "oof_rows": len(covered),
        "oof_mean_width": round(float(np.concatenate(widths).mean()), 2),
        "cv_rmse_mean": round(cv.metrics["rmse_mean"], 3),
        "holdout_rows": len(holdout),
        "holdout_coverage": round(shipped["coverage"], 4),
        "holdout_mean_width": round(shipped["mean_interval_width"], 2),
        "holdout_rmse": round(shipped["rmse"], 3),
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report))


if __name__ == "__main__":
    main()
