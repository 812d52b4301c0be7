"""Monitor-to-retrain decision: turn ``housing monitor``'s exit code into an action.

The scheduled monitor workflow runs ``housing monitor`` and hands its exit code to this script,
instead of YAML conditions nobody can test (the original challenge's retrain never fired: its
condition was always false and the workflow name was misspelt). Here:

- 0 (healthy or insufficient data): nothing to do, exit 0;
- 3 (retrain recommended): dispatch the retrain workflow through GitHub's REST API and exit 0;
  the target workflow is checked first to exist locally with a ``workflow_dispatch`` trigger;
- 2 (bad input or configuration) and 1 (any other failure): nothing dispatched, exit with the
  same code so the scheduled run turns red and someone looks;
- anything else (a crash, a signal): exit 1.

The token comes from ``GITHUB_TOKEN`` (``actions: write``) and is never printed. A dispatch made
with ``GITHUB_TOKEN`` does start a run: ``workflow_dispatch`` is exempt from GitHub's rule that
token-triggered events start no workflows.

Usage: ``python -m delivery.dispatch --monitor-exit-code 3 [--summary var/reports/x/summary.json]``
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import httpx
import yaml

MONITOR_HEALTHY = 0
MONITOR_FAILED = 1
MONITOR_BAD_INPUT = 2
MONITOR_RETRAIN = 3
DEFAULT_API_URL = "https://api.github.com"
DEFAULT_WORKFLOW = "retrain.yml"
REQUEST_TIMEOUT_S = 30.0
# GitHub limits a workflow_dispatch input value; keep the reason well below it.
MAX_REASON_CHARS = 900


class DispatchError(RuntimeError):
    """The retrain workflow could not be dispatched; the message says why (never the token)."""


@dataclass(frozen=True)
class Decision:
    action: Literal["none", "dispatch", "fail"]
    exit_code: int
    message: str


def decide(monitor_exit_code: int) -> Decision:
    """What to do for a monitor exit code (see the module docstring)."""
    if monitor_exit_code == MONITOR_HEALTHY:
        return Decision("none", 0, "monitor: healthy or not enough data; no retraining")
    if monitor_exit_code == MONITOR_RETRAIN:
        return Decision("dispatch", 0, "monitor: retraining recommended; dispatching retrain")
    if monitor_exit_code == MONITOR_BAD_INPUT:
        return Decision("fail", 2, "monitor: bad input or configuration (exit 2); fix it")
    if monitor_exit_code == MONITOR_FAILED:
        return Decision("fail", 1, "monitor: failed (exit 1); see its log")
    return Decision("fail", 1, f"monitor: unexpected exit code {monitor_exit_code}")


def check_target(workflows_dir: Path, workflow: str) -> None:
    """Fail before calling GitHub if the workflow file is missing or cannot be dispatched."""
    path = workflows_dir / workflow
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise DispatchError(f"workflow '{workflow}' not found in {workflows_dir}") from exc
    except yaml.YAMLError as exc:
        raise DispatchError(f"workflow '{workflow}' is not valid YAML: {exc}") from exc
    # YAML 1.1 reads the key `on` as True.
    triggers = document.get("on", document.get(True))
    if isinstance(triggers, str):
        triggers = [triggers]
    if not triggers or "workflow_dispatch" not in triggers:
        raise DispatchError(f"workflow '{workflow}' has no workflow_dispatch trigger")


def reason_from_summary(summary: Path | None) -> str:
    """A short reason for the retrain run, from the monitor's JSON summary when available."""
    if summary is None:
        return "monitor exit code 3"
    from monitoring.summary import RunSummary

    try:
        run = RunSummary.model_validate_json(summary.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "monitor exit code 3 (summary unreadable)"
    text = f"verdict {run.verdict.value}: " + "; ".join(run.reasons)
    return text[:MAX_REASON_CHARS]


def dispatch_workflow(
    *,
    api_url: str,
    repository: str,
    workflow: str,
    ref: str,
    token: str,
    inputs: Mapping[str, str],
) -> None:
    """POST a workflow_dispatch event; GitHub answers 204 on success."""
    url = f"{api_url.rstrip('/')}/repos/{repository}/actions/workflows/{workflow}/dispatches"
    headers = {
        "Accept": "application/vnd.github+json",
        "Authorization": f"Bearer {token}",
        "X-GitHub-Api-Version": "2022-11-28",
    }
    try:
        response = httpx.post(
            url,
            headers=headers,
            json={"ref": ref, "inputs": dict(inputs)},
            timeout=REQUEST_TIMEOUT_S,
        )
    except httpx.HTTPError as exc:
        raise DispatchError(f"cannot reach {api_url}: {type(exc).__name__}") from None
    if response.status_code != 204:
        try:
            detail = response.json().get("message", "")
        except ValueError:
            detail = response.text[:200]
        raise DispatchError(
            f"GitHub refused to dispatch {workflow} on {ref}: HTTP {response.status_code} {detail}"
        )


def _parser(environ: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m delivery.dispatch",
        description="Dispatch the retrain workflow when the monitor recommends it (exit 3).",
    )
    parser.add_argument("--monitor-exit-code", type=int, required=True)
    parser.add_argument("--workflow", default=DEFAULT_WORKFLOW)
    parser.add_argument("--workflows-dir", type=Path, default=Path(".github/workflows"))
    parser.add_argument("--ref", default=environ.get("GITHUB_REF_NAME") or "main")
    parser.add_argument("--repository", default=environ.get("GITHUB_REPOSITORY"))
    parser.add_argument("--api-url", default=environ.get("GITHUB_API_URL") or DEFAULT_API_URL)
    parser.add_argument("--summary", type=Path, help="the monitor's summary.json (for the reason)")
    parser.add_argument("--dry-run", action="store_true", help="decide and check, do not call")
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = _parser(environ).parse_args(argv)
    decision = decide(args.monitor_exit_code)
    print(decision.message)
    if decision.action != "dispatch":
        return decision.exit_code
    try:
        check_target(args.workflows_dir, args.workflow)
        if args.dry_run:
            print(f"dry run: would dispatch {args.workflow} on {args.ref}")
            return 0
        token = environ.get("GITHUB_TOKEN", "")
        if not token:
            raise DispatchError(
                "GITHUB_TOKEN is not set (the job needs permissions: actions: write)"
            )
        if not args.repository:
            raise DispatchError(
                "no repository: pass --repository OWNER/NAME or set GITHUB_REPOSITORY"
            )
        dispatch_workflow(
            api_url=args.api_url,
            repository=args.repository,
            workflow=args.workflow,
            ref=args.ref,
            token=token,
            inputs={"reason": reason_from_summary(args.summary)},
        )
    except DispatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"dispatched {args.workflow} on {args.ref} in {args.repository}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
