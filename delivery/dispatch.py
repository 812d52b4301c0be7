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

On Kubernetes (``deploy/kubernetes``), ``--kubernetes-cronjob housing-retrain`` makes the same
decision but its action is a Job created from that (suspended) CronJob's ``jobTemplate``, with
the pod's service account (RBAC: get that CronJob, create Jobs), as
``kubectl create job --from=cronjob/housing-retrain`` would.

Usage: ``python -m delivery.dispatch --monitor-exit-code 3 [--summary var/reports/x/summary.json]``
       ``python -m delivery.dispatch --monitor-exit-code 3 --kubernetes-cronjob housing-retrain``
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

from housing import exit_codes

DEFAULT_API_URL = "https://api.github.com"
DEFAULT_WORKFLOW = "retrain.yml"
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
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
    if monitor_exit_code == exit_codes.HEALTHY:
        return Decision(
            "none", exit_codes.HEALTHY, "monitor: healthy or not enough data; no retraining"
        )
    if monitor_exit_code == exit_codes.RETRAIN:
        return Decision(
            "dispatch", exit_codes.HEALTHY, "monitor: retraining recommended; dispatching retrain"
        )
    if monitor_exit_code == exit_codes.BAD_INPUT:
        return Decision(
            "fail", exit_codes.BAD_INPUT, "monitor: bad input or configuration (exit 2); fix it"
        )
    if monitor_exit_code == exit_codes.FAILURE:
        return Decision("fail", exit_codes.FAILURE, "monitor: failed (exit 1); see its log")
    return Decision(
        "fail", exit_codes.FAILURE, f"monitor: unexpected exit code {monitor_exit_code}"
    )


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
    from housing.run_summary import RunSummary

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


def create_job_from_cronjob(
    *, api_url: str, namespace: str, cronjob: str, token: str, ca_file: Path | None, reason: str
) -> str:
    """Create a Job from ``cronjob``'s ``jobTemplate`` through the Kubernetes API; its name."""
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    verify: str | bool = str(ca_file) if ca_file is not None and ca_file.is_file() else True
    base = f"{api_url.rstrip('/')}/apis/batch/v1/namespaces/{namespace}"
    try:
        with httpx.Client(headers=headers, verify=verify, timeout=REQUEST_TIMEOUT_S) as client:
            found = client.get(f"{base}/cronjobs/{cronjob}")
            if found.status_code != 200:
                raise DispatchError(
                    f"Kubernetes refused to read cronjob/{cronjob} in {namespace}: "
                    f"HTTP {found.status_code} {_k8s_message(found)}"
                )
            template = found.json()["spec"]["jobTemplate"]
            labels = dict((template.get("metadata") or {}).get("labels") or {})
            job = {
                "apiVersion": "batch/v1",
                "kind": "Job",
                "metadata": {
                    "generateName": f"{cronjob}-",
                    "namespace": namespace,
                    "labels": labels | {"app.kubernetes.io/created-by": "housing-monitor"},
                    "annotations": {
                        "cronjob.kubernetes.io/instantiate": "manual",
                        "housing.mlops/reason": reason,
                    },
                },
                "spec": template["spec"],
            }
            created = client.post(f"{base}/jobs", json=job)
    except httpx.HTTPError as exc:
        raise DispatchError(f"cannot reach the Kubernetes API: {type(exc).__name__}") from None
    if created.status_code != 201:
        raise DispatchError(
            f"Kubernetes refused to create a Job from cronjob/{cronjob}: "
            f"HTTP {created.status_code} {_k8s_message(created)}"
        )
    return str(created.json()["metadata"]["name"])


def _k8s_message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", ""))
    except ValueError:
        return response.text[:200]


def _dispatch_kubernetes(args: argparse.Namespace, environ: Mapping[str, str]) -> str:
    account: Path = args.service_account_dir
    api_url = args.kubernetes_api
    if not api_url:
        host, port = environ.get("KUBERNETES_SERVICE_HOST"), environ.get("KUBERNETES_SERVICE_PORT")
        if not host:
            raise DispatchError("not in a Kubernetes pod (KUBERNETES_SERVICE_HOST is not set)")
        api_url = f"https://{host}:{port or 443}"
    try:
        token = (account / "token").read_text(encoding="utf-8").strip()
        namespace = (account / "namespace").read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise DispatchError(
            f"no service account token in {account} (automountServiceAccountToken?)"
        ) from exc
    name = create_job_from_cronjob(
        api_url=api_url,
        namespace=namespace,
        cronjob=args.kubernetes_cronjob,
        token=token,
        ca_file=account / "ca.crt",
        reason=reason_from_summary(args.summary),
    )
    return f"created job/{name} from cronjob/{args.kubernetes_cronjob} in {namespace}"


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
    parser.add_argument(
        "--kubernetes-cronjob",
        help="on Kubernetes: create a Job from this CronJob instead of dispatching a workflow",
    )
    parser.add_argument("--kubernetes-api", help="API server URL (default: the in-cluster one)")
    parser.add_argument("--service-account-dir", type=Path, default=SERVICE_ACCOUNT_DIR)
    return parser


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    environ = os.environ if environ is None else environ
    args = _parser(environ).parse_args(argv)
    decision = decide(args.monitor_exit_code)
    print(decision.message)
    if decision.action != "dispatch":
        return decision.exit_code
    if args.kubernetes_cronjob:
        try:
            print(_dispatch_kubernetes(args, environ))
        except DispatchError as exc:
            return exit_codes.script_failure(exc, exit_codes.FAILURE)
        return exit_codes.HEALTHY
    try:
        check_target(args.workflows_dir, args.workflow)
        if args.dry_run:
            print(f"dry run: would dispatch {args.workflow} on {args.ref}")
            return exit_codes.HEALTHY
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
        return exit_codes.script_failure(exc, exit_codes.FAILURE)
    print(f"dispatched {args.workflow} on {args.ref} in {args.repository}")
    return exit_codes.HEALTHY


if __name__ == "__main__":
    sys.exit(main())
