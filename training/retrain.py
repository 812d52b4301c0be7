"""``housing retrain``: learn from what production taught us, and promote only a proven winner.

The challenger is trained on the base dataset plus the production rows that received a true
price (feedback) within ``retrain.feedback_window_days``, weighted by ``retrain.feedback_weight``.
The newest ``retrain.recent_fraction`` of those labelled rows is held back: challenger and
champion are both scored on it and on the fixed holdout. Production rows that fail the dataset's
validation are reported and left out.

Feedback can be wrong (a broken upstream job, a bad actor). Two defences, measured with 30% of
labels replaced by random prices (tests/integration/test_retrain_poisoned.py):

- quarantine: a label farther from the champion's price than ``retrain.quarantine_width``
  half-widths of its prediction interval (log price) is implausible; it is reported and neither
  trained nor judged on. A real market move of +35% is about one half-width; a random price is
  often several.
- the gate: the challenger must beat the champion on the recent rows by a paired-bootstrap
  interval (``retrain.confidence``) of the RMSE difference that excludes zero -- a win by noise
  is not a win -- and be no more than ``retrain.holdout_tolerance`` worse on the fixed holdout.
  Both figures are in the promotion reason.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from housing import bundle, exit_codes, model_card, registry
from housing.config import RetrainConfig, Settings
from housing.pricing import PricingModel
from housing.records import records_to_frame
from housing.store.tables import feedback, predictions
from housing.validation import DataSource, DataValidationError, split_valid, summarize
from training.correction import corrected_challenger
from training.data import load_training_data
from training.pipeline import evaluate, split_holdout
from training.publish import publish
from training.train import train_model

Progress = Callable[[str], None]


class RetrainError(RuntimeError):
    """Retraining cannot run; ``exit_code`` follows the CLI convention (2 input, 1 other)."""

    def __init__(self, message: str, exit_code: int = exit_codes.FAILURE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass
class RetrainOutcome:
    reason: str
    production_rows: int
    invalid_rows: int
    quarantined_rows: int = 0
    training_rows: int = 0
    recent_rows: int = 0
    promoted: bool = False
    decision: str = ""
    version: int | None = None
    champion_version: int | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    bento_tag: str | None = None
    notes: list[str] = field(default_factory=list)

    def describe(self) -> str:
        head = (
            (f"challenger v{self.version} promoted" if self.promoted else "champion kept")
            if self.version is not None
            else "no challenger trained"
        )
        parts = [f"{head}: {self.decision}"]
        parts.append(
            f"{self.production_rows} labelled production rows ({self.invalid_rows} invalid left "
            f"out, {self.quarantined_rows} implausible labels quarantined, {self.recent_rows} "
            "held back as recent)"
        )
        if self.bento_tag:
            parts.append(f"new Bento {self.bento_tag}")
        return "; ".join(parts + self.notes)


def labelled_production_rows(settings: Settings, now: datetime | None = None) -> pd.DataFrame:
    """Production predictions with feedback inside the window: features, target, created_at."""
    from housing.store.database import open_log

    since = (now or datetime.now(UTC)) - timedelta(days=settings.retrain.feedback_window_days)
    query = (
        select(predictions.c.created_at, predictions.c.features, feedback.c.actual_price)
        .join(feedback, feedback.c.prediction_id == predictions.c.prediction_id)
        .where(feedback.c.received_at >= since.astimezone(UTC))
        .order_by(predictions.c.created_at)
    )
    engine = open_log(settings)
    try:
        with engine.connect() as connection:
            rows = connection.execute(query).all()
    finally:
        engine.dispose()
    target = settings.dataset.target
    records = [
        {**(row.features if isinstance(row.features, dict) else {}), target: row.actual_price}
        for row in rows
    ]
    frame = records_to_frame(records, settings, with_target=True)
    frame["created_at"] = pd.to_datetime([row.created_at for row in rows], utc=True)
    return frame


def _recent_split(frame: pd.DataFrame, fraction: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(older rows for training, newest ``fraction`` held back), split by prediction time."""
    ordered = frame.sort_values("created_at", kind="stable")
    cut = len(ordered) - max(1, round(len(ordered) * fraction))
    return ordered.iloc[:cut], ordered.iloc[cut:]


def _unseen(
    rows: pd.DataFrame, others: pd.DataFrame, columns: list[str]
) -> tuple[pd.DataFrame, int]:
    """``rows`` whose houses are not among ``others``, and how many were dropped.

    An evaluation set must stay unseen by the model it judges. Real traffic rarely repeats a
    house exactly; replayed or simulated traffic drawn from the holdout does, and would flatter
    the challenger.
    """
    seen = pd.MultiIndex.from_frame(others[columns].astype(str))
    mask = pd.MultiIndex.from_frame(rows[columns].astype(str)).isin(seen)
    return rows[~mask], int(mask.sum())


def retrain(settings: Settings, *, reason: str, progress: Progress | None = None) -> RetrainOutcome:
    """Train a challenger on base + labelled production rows and promote it if the gate says so.

    Building the new champion's Bento is the caller's step (``monitoring.loop``).
    """
    step = progress or (lambda _message: None)
    target = settings.dataset.target
    rules = settings.retrain
    champion = registry.get_champion(settings)
    if champion is None:
        raise RetrainError("there is no champion to retrain against: run `housing train` first")
    step("reading labelled production rows")
    production = labelled_production_rows(settings)
    outcome = RetrainOutcome(reason=reason, production_rows=len(production), invalid_rows=0)
    if len(production):
        try:
            valid, issues = split_valid(
                production, settings, with_target=True, source=DataSource("feedback")
            )
        except DataValidationError as exc:
            raise RetrainError(f"production rows unusable: {exc}", exit_codes.BAD_INPUT) from exc
        invalid = {issue.row for issue in issues}
        outcome.invalid_rows = len(invalid)
        if issues:
            outcome.notes.append(summarize(DataSource("labelled production rows"), issues))
        valid["created_at"] = production.loc[valid.index, "created_at"]
        production = valid
    champion_model = bundle.load_model(settings, champion)
    production, outcome.quarantined_rows = quarantine(
        production, champion_model.pricing, target, rules.quarantine_width
    )
    if outcome.quarantined_rows:
        outcome.notes.append(
            f"{outcome.quarantined_rows} labels quarantined: farther from the champion's price "
            f"than {rules.quarantine_width:g} half-widths of its interval"
        )
    outcome.production_rows = len(production)
    if len(production) < rules.min_labels:
        outcome.decision = (
            f"only {len(production)} valid labelled production rows in the last "
            f"{rules.feedback_window_days:g} days, at least {rules.min_labels} needed"
        )
        return outcome
    step("preparing base data and production rows")
    try:
        data = load_training_data(settings)
    except DataValidationError as exc:
        raise RetrainError(str(exc), exit_codes.BAD_INPUT) from exc
    base_train, holdout = split_holdout(data.frame, settings)
    older, recent = _recent_split(production, rules.recent_fraction)
    # Repeated houses would let the challenger memorise the rows it is judged on.
    older, repeated = _unseen(older, recent, settings.feature_names)
    if repeated:
        outcome.notes.append(
            f"{repeated} older production rows left out of training: the same houses are among "
            "the recent rows both models are judged on"
        )
    holdout, seen = _unseen(holdout, older, settings.feature_names)
    if seen:
        outcome.notes.append(
            f"{seen} holdout rows left out of the comparison: the same houses are among the "
            "production rows the challenger trains on"
        )
    outcome.recent_rows = len(recent)
    if rules.method == "correction":
        step(f"fitting a market correction of the champion on {len(older)} production rows")
        outcome.training_rows = len(older)
        trained, holdout, moved = corrected_challenger(
            settings,
            champion_model.pricing,
            champion_model.info,
            older=older,
            recent=recent,
            holdout=holdout,
            data_sha256=data.sha256,
        )
        if moved:
            outcome.notes.append(
                f"{moved} holdout rows left out of the comparison: the correction moves their "
                f"price by more than {rules.correction.moved_margin:.0%} (their market moved)"
            )
    else:
        columns = [*settings.feature_names, target]
        train = pd.concat([base_train[columns], older[columns]], ignore_index=True)
        weights = np.concatenate(
            [np.ones(len(base_train)), np.full(len(older), rules.feedback_weight)]
        )
        outcome.training_rows = len(train)
        step(f"training a challenger on {len(base_train)} base + {len(older)} production rows")
        trained = train_model(
            settings, train, holdout, data_sha256=data.sha256, sample_weight=weights, on_step=step
        )
    step("scoring challenger and champion on the holdout and the recent rows")
    gain = paired_bootstrap(
        recent[target].to_numpy(dtype=float),
        champion_model.pricing.predict(recent).price,
        trained.pricing.predict(recent).price,
        rules,
        seed=settings.split.seed,
    )
    scores = {
        "challenger_holdout_rmse": trained.metrics["holdout_rmse"],
        "challenger_recent_rmse": gain.challenger,
        "champion_holdout_rmse": evaluate(champion_model.pricing, holdout, target)["rmse"],
        "champion_recent_rmse": gain.champion,
        "recent_rmse_gain_low": gain.low,
        "recent_rmse_gain_high": gain.high,
    }
    outcome.metrics = scores
    outcome.champion_version = champion.version
    promote, outcome.decision = _gate(scores, rules, champion.version)
    step("logging the challenger to MLflow and BentoML")
    trained = dataclasses.replace(trained, metrics={**trained.metrics, **scores})
    tags = {
        "trigger": reason[:5000],
        "retrain": "true",
        "production_rows": str(len(older)),
        "recent_rows": str(len(recent)),
        "invalid_production_rows": str(outcome.invalid_rows),
        "quarantined_labels": str(outcome.quarantined_rows),
        "retrain_method": rules.method,
        "feedback_weight": str(rules.feedback_weight),
        "promotion_decision": "promoted" if promote else "challenger",
        "promotion_reason": outcome.decision[:5000],
    }
    registration = publish(settings, trained, reason=f"retrain: {reason}"[:5000], tags=tags)
    outcome.version = registration.version
    if settings.retrain.promotion_mode == "shadow":  # judged on production labels instead
        registry.set_shadow(settings, registration.version)
        outcome.decision = (
            f"challenger v{registration.version} put into shadow (retrain.promotion_mode); "
            f"the gate said: {outcome.decision}"
        )
    elif promote:
        registry.promote(settings, registration.version, f"retrain: {outcome.decision}")
        outcome.promoted = True
    model_card.refresh(settings, registration, engine=None)  # with the gate's verdict
    return outcome


def quarantine(
    rows: pd.DataFrame, pricing: PricingModel, target: str, width: float
) -> tuple[pd.DataFrame, int]:
    """``rows`` without labels implausible for the champion's price, and how many were removed.

    Implausible: |log(label / price)| above ``width`` times the log half-width of the
    champion's prediction interval for that house.
    """
    if not len(rows):
        return rows, 0
    estimates = pricing.predict(rows)
    halfwidth = np.log(estimates.high / estimates.price)
    distance = np.abs(np.log(rows[target].to_numpy(dtype=float) / estimates.price))
    keep = distance <= width * halfwidth
    return rows[keep], int((~keep).sum())


@dataclass(frozen=True)
class RecentGain:
    """Champion and challenger RMSE on the recent rows, and the interval of their difference."""

    champion: float
    challenger: float
    low: float
    high: float


def _rmse(actual: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((predicted - actual) ** 2)))


def paired_bootstrap(
    actual: np.ndarray,
    champion: np.ndarray,
    challenger: np.ndarray,
    rules: RetrainConfig,
    *,
    seed: int,
) -> RecentGain:
    """Percentile interval of RMSE(champion) - RMSE(challenger) over resampled recent rows.

    Both models are scored on the same resampled rows (paired), so what the houses share --
    how hard they are to price -- cancels out and only the difference between models remains.
    """
    rng = np.random.default_rng(seed)
    squared_champion, squared_challenger = (champion - actual) ** 2, (challenger - actual) ** 2
    n = len(actual)
    picks = rng.integers(0, n, size=(rules.bootstrap_resamples, n))
    gains = np.sqrt(squared_champion[picks].mean(axis=1)) - np.sqrt(
        squared_challenger[picks].mean(axis=1)
    )
    tail = (1 - rules.confidence) / 2 * 100
    low, high = np.percentile(gains, [tail, 100 - tail])
    return RecentGain(
        champion=_rmse(actual, champion),
        challenger=_rmse(actual, challenger),
        low=float(low),
        high=float(high),
    )


def _gate(
    scores: dict[str, float], rules: RetrainConfig, champion_version: int
) -> tuple[bool, str]:
    tolerance = rules.holdout_tolerance
    needed = rules.min_gain * scores["champion_recent_rmse"]
    recent_better = scores["recent_rmse_gain_low"] > needed
    holdout_change = scores["challenger_holdout_rmse"] / scores["champion_holdout_rmse"] - 1
    holdout_ok = holdout_change <= tolerance
    text = (
        f"recent RMSE {scores['challenger_recent_rmse']:,.0f} vs champion "
        f"v{champion_version} {scores['champion_recent_rmse']:,.0f} (gain "
        f"{scores['recent_rmse_gain_low']:,.0f}..{scores['recent_rmse_gain_high']:,.0f} at "
        f"{rules.confidence:.0%}, needed above {needed:,.0f}); holdout RMSE "
        f"{scores['challenger_holdout_rmse']:,.0f} vs "
        f"{scores['champion_holdout_rmse']:,.0f} ({holdout_change:+.1%}, tolerance "
        f"{tolerance:.0%})"
    )
    if recent_better and holdout_ok:
        return True, f"surely better on recent data and within tolerance on the holdout: {text}"
    why = (
        "not surely better on recent data" if not recent_better else "too much worse on the holdout"
    )
    return False, f"{why}: {text}"
