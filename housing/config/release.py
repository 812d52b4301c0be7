"""``retrain`` and ``delivery``: how a challenger is made from production labels, and how the
champion is packaged into a container image.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from housing.config.base import Fraction, PositiveFloat, PositiveInt, Section


class CorrectionConfig(Section):
    """The recent-market correction a ``correction`` retrain adds on top of the champion."""

    features: list[str] = Field(
        default=[],
        description="numeric features the log-price correction is learned from (e.g. the "
        "coordinates, for a regional market move)",
    )
    params: dict[str, Any] = Field(
        default={},
        description="HistGradientBoostingRegressor params of the correction (few shallow, "
        "strongly regularised rounds: the correction is shrunk toward no change)",
    )
    moved_margin: Fraction = Field(
        default=0.05,
        description="holdout houses whose price the correction moves by more than this (log) "
        "are left out of the holdout comparison: recent labels say their market moved",
    )


class RetrainConfig(Section):
    """``housing retrain``: a challenger made with labelled production rows, promoted only when
    it wins on the most recent labels."""

    method: Literal["refit", "correction"] = Field(
        default="refit",
        description="refit: train a new model on base + production rows; correction: keep the "
        "champion and learn a log-price correction from the production rows, with intervals "
        "recalibrated on them",
    )
    correction: CorrectionConfig = CorrectionConfig()
    feedback_window_days: PositiveFloat = Field(
        default=30.0,
        description="predictions whose feedback (true price) arrived in the last this many days "
        "are the production rows a retrain learns from",
    )
    feedback_weight: PositiveFloat = Field(
        default=2.0,
        description="sample weight of a production row relative to a base row (method refit only)",
    )
    recent_fraction: Fraction = Field(
        default=0.3, description="share of labelled production rows held back for evaluation"
    )
    min_labels: PositiveInt = Field(
        default=100,
        description="fewer valid labelled production rows (after quarantine) in the window: no "
        "retrain (too little to learn from or judge on)",
    )
    holdout_tolerance: float = Field(
        default=0.03,
        ge=0.0,
        lt=1.0,
        description="a challenger may be this much (relative RMSE) worse on the fixed holdout, "
        "since the market it describes may have moved; it must still win on recent labels",
    )
    quarantine_width: PositiveFloat = Field(
        default=3.0,
        description="labels farther from the champion's price than this many half-widths of "
        "its prediction interval (in log price) are implausible: quarantined, not trained on",
    )
    confidence: Fraction = Field(
        default=0.95,
        description="level of the paired-bootstrap interval of the recent-slice RMSE "
        "difference; the challenger is promoted only when the interval excludes zero",
    )
    min_gain: float = Field(
        default=0.0,
        ge=0.0,
        lt=1.0,
        description="the interval's lower bound must exceed this share of the champion's recent "
        "RMSE: a win too small to be worth a new version is not promoted",
    )
    bootstrap_resamples: PositiveInt = Field(
        default=2000, description="resamples of the paired bootstrap (seeded with split.seed)"
    )
    build_bento: bool = Field(
        default=True,
        description="build a Bento of a promoted challenger (the commands' `--build/--no-build` "
        "overrides it)",
    )
    promotion_mode: Literal["gate", "shadow"] = Field(
        default="gate",
        description="gate: promote a challenger that passes the gate; shadow: score it in "
        "shadow instead, and promote it with `housing promote --from-shadow` on production labels",
    )
    shadow_min_labels: PositiveInt = Field(
        default=200,
        description="labelled predictions priced by champion and shadow that "
        "`housing promote --from-shadow` needs (with the interval at `confidence` above zero)",
    )


class DeliveryConfig(Section):
    """How the Bento is packaged into a container image (``housing build``/``containerize``)."""

    image: str = Field(
        default="housing-price",
        pattern=r"^[a-z0-9][a-z0-9._/:-]*$",
        description="image repository the container is tagged as; CI prefixes its registry",
    )
    tools_image: str = Field(
        default="housing-tools",
        pattern=r"^[a-z0-9][a-z0-9._/:-]*$",
        description="image of the monitor/retrain jobs (`housing containerize --target monitor`)",
    )
    base_image: str | None = Field(
        default=None,
        description="FROM image of the container; null keeps BentoML's python:3.11-slim",
    )
    backend: Literal["auto", "docker", "podman", "buildah"] = Field(
        default="auto", description="container builder; auto picks the first one installed"
    )
