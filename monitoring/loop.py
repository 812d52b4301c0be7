"""The closed loop in one place: monitor, retrain when the verdict asks, build when promoted.

``housing monitor --retrain``, ``housing retrain`` (the retrain workflow) and the scheduler all
run these two functions, so the three paths cannot drift apart. Retraining itself only trains,
gates and promotes; packaging the new champion is the last step here
(``retrain.build_bento`` or ``--build/--no-build``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from housing import exit_codes
from housing.config import Settings
from monitoring.monitor import MonitorResult, run_monitor
from monitoring.window import Window
from training.retrain import RetrainOutcome, retrain

Progress = Callable[[str], None]


@dataclass
class LoopOutcome:
    """One pass of the loop: the monitor result and, when it retrained, what that did."""

    monitor: MonitorResult
    retrain: RetrainOutcome | None = None

    @property
    def exit_code(self) -> int:
        """The monitor's exit code: retraining does not make a drifted window healthy."""
        return self.monitor.exit_code


def retrain_and_build(
    settings: Settings, *, reason: str, build: bool | None = None, progress: Progress | None = None
) -> RetrainOutcome:
    """Retrain; when the challenger is promoted and building is on, build its Bento.

    ``build`` None means ``retrain.build_bento``. Raises ``RetrainError`` (with its exit code)
    and ``delivery.build.BuildError``.
    """
    build = settings.retrain.build_bento if build is None else build
    step = progress or (lambda _message: None)
    outcome = retrain(settings, reason=reason, progress=step)
    if outcome.promoted and build:
        from delivery.build import build_bento

        step("building a Bento with the new champion")
        outcome.bento_tag = build_bento(settings)
    return outcome


def monitor_and_act(
    settings: Settings,
    window: Window,
    *,
    trigger: str,
    retrain: bool,
    build: bool | None = None,
    progress: Progress | None = None,
    on_monitored: Callable[[MonitorResult], None] | None = None,
) -> LoopOutcome:
    """Monitor ``window``; with ``retrain``, retrain (and build) when the verdict asks for it.

    ``on_monitored`` sees the monitor result before retraining starts (the CLI prints it).
    """
    result = run_monitor(settings, window, trigger=trigger, progress=progress)
    if on_monitored is not None:
        on_monitored(result)
    outcome = LoopOutcome(result)
    if retrain and result.exit_code == exit_codes.RETRAIN:
        which = "scheduled monitor" if trigger == "schedule" else "monitor"
        reasons = "; ".join(result.verdict.reasons)
        reason = f"{which} {result.summary.run_id}: {reasons}"
        outcome.retrain = retrain_and_build(settings, reason=reason, build=build, progress=progress)
    return outcome
