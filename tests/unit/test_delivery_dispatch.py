"""The monitor-to-retrain decision script: every monitor exit code, and the dispatch call itself.

The dispatch goes over real HTTP to a local server that answers like GitHub's REST endpoint, so
the URL, headers and body the script sends are what is checked, not a mocked function.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml

from delivery import dispatch
from tests.fixtures.monitoring import run_summary

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"


@contextlib.contextmanager
def _local_server(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class _Recorder:
    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 204
        self.body = b""


@pytest.fixture
def github_api() -> Iterator[tuple[str, _Recorder]]:
    """A local HTTP server on 127.0.0.1 that records dispatch requests like api.github.com."""
    recorder = _Recorder()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            recorder.requests.append(
                {
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "accept": self.headers.get("Accept"),
                    "body": json.loads(self.rfile.read(length) or b"{}"),
                }
            )
            self.send_response(recorder.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            if recorder.body:
                self.wfile.write(recorder.body)

        def log_message(self, *args: object) -> None:
            return

    with _local_server(Handler) as url:
        yield url, recorder


def _run(code: int, api_url: str, **extra: str) -> int:
    argv = [
        "--monitor-exit-code",
        str(code),
        "--workflows-dir",
        str(WORKFLOWS),
        "--repository",
        "acme/housing",
        "--api-url",
        api_url,
        "--ref",
        "main",
    ]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", value]
    return dispatch.main(argv, environ={"GITHUB_TOKEN": "secret-token-value"})


def test_healthy_exit_dispatches_nothing(github_api, capsys) -> None:
    url, recorder = github_api
    assert _run(0, url) == 0
    assert recorder.requests == []
    assert "no retraining" in capsys.readouterr().out


def test_retrain_exit_dispatches_the_retrain_workflow(github_api, tmp_path, capsys) -> None:
    url, recorder = github_api
    summary = tmp_path / "summary.json"
    summary.write_text(run_summary("drift", ["drift share 0.56 >= 0.30"]), encoding="utf-8")
    assert _run(3, url, summary=str(summary)) == 0
    assert len(recorder.requests) == 1
    request = recorder.requests[0]
    assert request["path"] == "/repos/acme/housing/actions/workflows/retrain.yml/dispatches"
    assert request["authorization"] == "Bearer secret-token-value"
    assert request["accept"] == "application/vnd.github+json"
    assert request["body"] == {
        "ref": "main",
        "inputs": {"reason": "verdict drift: drift share 0.56 >= 0.30"},
    }
    output = capsys.readouterr()
    assert "dispatched retrain.yml" in output.out
    assert "secret-token-value" not in output.out + output.err


@pytest.mark.parametrize(("monitor_code", "expected"), [(2, 2), (1, 1), (137, 1), (-1, 1)])
def test_failing_monitor_fails_the_run_and_dispatches_nothing(
    github_api, monitor_code: int, expected: int
) -> None:
    url, recorder = github_api
    assert _run(monitor_code, url) == expected
    assert recorder.requests == []


def test_github_refusal_is_a_failure_with_its_message(github_api, capsys) -> None:
    url, recorder = github_api
    recorder.status = 403
    recorder.body = b'{"message": "Resource not accessible by integration"}'
    assert _run(3, url) == 1
    err = capsys.readouterr().err
    assert "HTTP 403 Resource not accessible by integration" in err
    assert "secret-token-value" not in err


def test_unreachable_api_is_a_failure(capsys) -> None:
    assert _run(3, "http://127.0.0.1:9") == 1
    assert "cannot reach" in capsys.readouterr().err


def test_missing_token_is_a_failure_before_any_call(github_api, capsys) -> None:
    url, recorder = github_api
    argv = ["--monitor-exit-code", "3", "--workflows-dir", str(WORKFLOWS)]
    argv += ["--repository", "acme/housing", "--api-url", url]
    assert dispatch.main(argv, environ={}) == 1
    assert recorder.requests == []
    assert "GITHUB_TOKEN is not set" in capsys.readouterr().err


def test_misspelt_workflow_is_refused_before_any_call(github_api, capsys) -> None:
    url, recorder = github_api
    assert _run(3, url, workflow="retrian.yml") == 1
    assert recorder.requests == []
    assert "workflow 'retrian.yml' not found" in capsys.readouterr().err


def test_workflow_without_dispatch_trigger_is_refused(tmp_path) -> None:
    (tmp_path / "retrain.yml").write_text("on:\n  push:\n", encoding="utf-8")
    with pytest.raises(dispatch.DispatchError, match="no workflow_dispatch trigger"):
        dispatch.check_target(tmp_path, "retrain.yml")


def test_monitor_workflow_dispatches_a_workflow_that_can_be_dispatched() -> None:
    """The names in monitor.yml point at a real workflow with the input the script sends."""
    monitor = (WORKFLOWS / "monitor.yml").read_text(encoding="utf-8")
    assert "python -m delivery.dispatch" in monitor
    assert "--workflow retrain.yml" in monitor
    dispatch.check_target(WORKFLOWS, "retrain.yml")
    retrain = yaml.safe_load((WORKFLOWS / "retrain.yml").read_text(encoding="utf-8"))
    triggers = retrain.get("on", retrain.get(True))
    assert "reason" in triggers["workflow_dispatch"]["inputs"]
    jobs = yaml.safe_load(monitor)["jobs"]
    assert jobs["decide"]["permissions"] == {"contents": "read", "actions": "write"}


# ----------------------------------------------------------------------------- Kubernetes

RETRAIN_CRONJOB = ROOT / "deploy" / "kubernetes" / "base" / "retrain.yaml"


@pytest.fixture
def kubernetes_api() -> Iterator[tuple[str, _Recorder]]:
    """A local HTTP server answering like the Kubernetes API for the retrain CronJob."""
    recorder = _Recorder()
    cronjob = yaml.safe_load(RETRAIN_CRONJOB.read_text(encoding="utf-8"))

    class Handler(BaseHTTPRequestHandler):
        def _answer(self, status: int, body: dict) -> None:
            payload = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            recorder.requests.append({"method": "GET", "path": self.path})
            if self.path == "/apis/batch/v1/namespaces/housing/cronjobs/housing-retrain":
                self._answer(200, cronjob)
            else:
                self._answer(404, {"message": f"cronjobs.batch {self.path!r} not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length))
            recorder.requests.append(
                {
                    "method": "POST",
                    "path": self.path,
                    "authorization": self.headers.get("Authorization"),
                    "body": body,
                }
            )
            if recorder.status != 201:
                self._answer(recorder.status, {"message": "jobs.batch is forbidden"})
                return
            name = body["metadata"]["generateName"] + "x7k2p"
            self._answer(201, {**body, "metadata": {**body["metadata"], "name": name}})

        def log_message(self, *args: object) -> None:
            return

    recorder.status = 201
    with _local_server(Handler) as url:
        yield url, recorder


def _service_account(tmp_path: Path) -> Path:
    account = tmp_path / "serviceaccount"
    account.mkdir()
    (account / "token").write_text("pod-token-value\n", encoding="utf-8")
    (account / "namespace").write_text("housing", encoding="utf-8")
    return account


def _run_kubernetes(code: int, api_url: str, account: Path, cronjob: str = "housing-retrain"):
    argv = ["--monitor-exit-code", str(code), "--kubernetes-cronjob", cronjob]
    argv += ["--kubernetes-api", api_url, "--service-account-dir", str(account)]
    return dispatch.main(argv, environ={})


def test_kubernetes_retrain_exit_creates_a_job_from_the_retrain_template(
    kubernetes_api, tmp_path, capsys
) -> None:
    url, recorder = kubernetes_api
    assert _run_kubernetes(3, url, _service_account(tmp_path)) == 0
    get, post = recorder.requests
    assert get["method"] == "GET"
    assert post["path"] == "/apis/batch/v1/namespaces/housing/jobs"
    assert post["authorization"] == "Bearer pod-token-value"
    job = post["body"]
    template = yaml.safe_load(RETRAIN_CRONJOB.read_text(encoding="utf-8"))
    assert job["kind"] == "Job"
    assert job["metadata"]["generateName"] == "housing-retrain-"
    assert job["spec"] == template["spec"]["jobTemplate"]["spec"]
    assert job["metadata"]["annotations"]["housing.mlops/reason"] == "monitor exit code 3"
    out = capsys.readouterr()
    assert "created job/housing-retrain-x7k2p from cronjob/housing-retrain in housing" in out.out
    assert "pod-token-value" not in out.out + out.err


@pytest.mark.parametrize(("monitor_code", "expected"), [(0, 0), (2, 2), (1, 1)])
def test_kubernetes_other_exit_codes_create_nothing(
    kubernetes_api, tmp_path, monitor_code: int, expected: int
) -> None:
    url, recorder = kubernetes_api
    assert _run_kubernetes(monitor_code, url, _service_account(tmp_path)) == expected
    assert recorder.requests == []


def test_kubernetes_refusals_fail_the_monitor_job_with_the_reason(
    kubernetes_api, tmp_path, capsys
) -> None:
    url, recorder = kubernetes_api
    account = _service_account(tmp_path)
    assert _run_kubernetes(3, url, account, cronjob="housing-retrian") == 1
    assert "HTTP 404" in capsys.readouterr().err
    recorder.status = 403
    assert _run_kubernetes(3, url, account) == 1
    assert "HTTP 403 jobs.batch is forbidden" in capsys.readouterr().err


def test_kubernetes_outside_a_pod_is_a_clear_failure(tmp_path, capsys) -> None:
    argv = ["--monitor-exit-code", "3", "--kubernetes-cronjob", "housing-retrain"]
    argv += ["--service-account-dir", str(tmp_path / "missing")]
    assert dispatch.main(argv, environ={}) == 1
    assert "KUBERNETES_SERVICE_HOST is not set" in capsys.readouterr().err
