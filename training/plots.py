"""Diagnostic plots logged with every run: where the model is wrong is easier seen than read."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display on servers and in CI

import matplotlib.pyplot as plt
import numpy as np

from housing.pricing import PriceEstimates

_DPI = 110


def predicted_vs_actual(
    actual: np.ndarray, estimates: PriceEstimates, path: Path, title: str
) -> Path:
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.scatter(actual, estimates.price, s=4, alpha=0.35, label="holdout house")
    low, high = float(np.min(actual)), float(np.max(actual))
    axes.plot([low, high], [low, high], color="black", linewidth=1, label="perfect")
    axes.set_xlabel("actual price")
    axes.set_ylabel("predicted price")
    axes.set_title(title)
    axes.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
    return path


def residuals(actual: np.ndarray, estimates: PriceEstimates, path: Path, title: str) -> Path:
    error = actual - estimates.price
    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    left.scatter(estimates.price, error, s=4, alpha=0.35)
    left.axhline(0, color="black", linewidth=1)
    left.set_xlabel("predicted price")
    left.set_ylabel("actual - predicted")
    left.set_title(title)
    right.hist(error, bins=60)
    right.set_xlabel("actual - predicted")
    right.set_ylabel("houses")
    right.set_title("residual distribution")
    figure.tight_layout()
    figure.savefig(path, dpi=_DPI)
    plt.close(figure)
    return path
