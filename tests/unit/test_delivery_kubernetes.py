"""deploy/kubernetes: rendered offline, valid against the Kubernetes schema, and in step with the
service's configuration (ports, probes, grace period, secrets, images, the monitor's exit code).

Rendering uses ``delivery.kubernetes`` (the kustomize subset the manifests use); where kubectl is
installed, its ``kubectl kustomize`` output must be the same objects.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from delivery.kubernetes import RenderError, render
from housing.config import load_config

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "deploy" / "kubernetes" / "base"
OVERLAY = ROOT / "deploy" / "kubernetes" / "overlays" / "example"
KUBERNETES_VERSION = kubernetes_validate.latest_version()
# Custom resources have no schema in kubernetes-validate; checked field by field below.
CUSTOM_KINDS = {("monitoring.coreos.com/v1", "ServiceMonitor")}


def _by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(o["kind"], o["metadata"]["name"]): o for o in objects}


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict[str, Any]]:
    return _by_kind(render(OVERLAY))


def _pod(obj: dict[str, Any]) -> dict[str, Any]:
    if obj["kind"] == "CronJob":
        return obj["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    return obj["spec"]["template"]["spec"]


def _env(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {item["name"]: item for item in container.get("env", [])}


@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_every_manifest_validates_against_the_current_kubernetes_schema(directory) -> None:
    objects = render(directory)
    kinds = {o["kind"] for o in objects}
    expected = {"Deployment", "Service", "HorizontalPodAutoscaler", "CronJob", "ServiceMonitor"}
    assert expected <= kinds
    for obj in objects:
        if (obj["apiVersion"], obj["kind"]) in CUSTOM_KINDS:
            continue
        # strict: unknown fields (a misspelt key) are errors, not silently dropped.
        kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


def test_a_misspelt_field_fails_validation(rendered) -> None:
    deployment = yaml.safe_load(yaml.safe_dump(rendered["Deployment", "housing-service"]))
    deployment["spec"]["template"]["spec"]["terminationGracePeriodSecond"] = 60
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, KUBERNETES_VERSION, strict=True)


def test_overlay_sets_namespace_images_and_replicas(rendered) -> None:
    settings = load_config(ROOT / "configuration.yaml", environ={})
    assert {o["metadata"].get("namespace") for o in rendered.values()} == {"housing"}
    binding = rendered["RoleBinding", "housing-monitor"]
    assert binding["subjects"][0]["namespace"] == "housing"
    service = _pod(rendered["Deployment", "housing-service"])["containers"][0]
    assert service["image"].startswith(f"ghcr.io/acme/{settings.delivery.image}:")
    for name in ("housing-monitor", "housing-retrain"):
        image = _pod(rendered["CronJob", name])["containers"][0]["image"]
        assert image.startswith("ghcr.io/acme/housing-tools:")
    assert rendered["Deployment", "housing-service"]["spec"]["replicas"] == 3
    assert rendered["HorizontalPodAutoscaler", "housing-service"]["spec"]["maxReplicas"] == 20


def test_ports_probes_and_grace_period_match_the_service_configuration(rendered) -> None:
    settings = load_config(ROOT / "configuration.yaml", environ={})
    deployment = rendered["Deployment", "housing-service"]
    pod = _pod(deployment)
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"http": settings.service.port, "grpc": settings.service.grpc_port}
    # BentoML's built-in endpoints: ready only once the champion is loaded; alive while serving.
    for probe in ("startupProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert container["livenessProbe"]["httpGet"] == {"path": "/livez", "port": "http"}

    # SIGTERM: open HTTP requests get service.drain_timeout_s, then in-flight gRPC calls as long
    # again, then the prediction log is drained (one flush, one database attempt bounded by the
    # busy timeout).
    storage = settings.storage
    log_drain_s = storage.flush_interval_s + storage.sqlite_busy_timeout_ms / 1000
    grace = pod["terminationGracePeriodSeconds"]
    assert grace > 2 * settings.service.drain_timeout_s + log_drain_s

    service = rendered["Service", "housing-service"]
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    service_ports = {p["name"]: (p["port"], p["targetPort"]) for p in service["spec"]["ports"]}
    assert service_ports == {
        "http": (settings.service.port, "http"),
        "grpc": (settings.service.grpc_port, "grpc"),
    }
    monitor = rendered["ServiceMonitor", "housing-service"]
    labels = service["metadata"]["labels"]
    assert monitor["spec"]["selector"]["matchLabels"].items() <= labels.items()
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s"}]
    hpa = rendered["HorizontalPodAutoscaler", "housing-service"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert container["resources"]["requests"]["cpu"]  # the HPA's percentage needs a request


def test_secrets_are_referenced_by_the_names_the_service_reads(rendered) -> None:
    settings = load_config(ROOT / "configuration.yaml", environ={})
    docs = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"--from-literal=([a-z-]+)=", docs))
    workloads = [
        rendered["Deployment", "housing-service"],
        rendered["CronJob", "housing-monitor"],
        rendered["CronJob", "housing-retrain"],
    ]
    for workload in workloads:
        for container in _pod(workload)["containers"]:
            env = _env(container)
            url = env["HOUSING_STORAGE__URL"]["valueFrom"]["secretKeyRef"]
            assert (url["name"], url["key"]) == ("housing-secrets", "database-url")
            references = [e["valueFrom"]["secretKeyRef"] for e in env.values() if "valueFrom" in e]
            required = {r["key"] for r in references if r["name"] == "housing-secrets"}
            assert required <= documented, f"docs/deploy.md lacks {required - documented}"
            assert all(r.get("optional") for r in references if r["name"] != "housing-secrets")
            # No secret value is written into a manifest.
            assert not any("postgresql" in str(e.get("value", "")) for e in env.values())
            # Every HOUSING_ override names a real configuration key with a valid value.
            overrides = {k: str(e.get("value", "x")) for k, e in env.items() if "value" in e}
            overrides["HOUSING_STORAGE__URL"] = "postgresql+psycopg://u:p@db:5432/housing"
            load_config(ROOT / "configuration.yaml", environ=overrides)
    token = _env(_pod(workloads[0])["containers"][0])[settings.service.feedback.token_env]
    reference = token["valueFrom"]["secretKeyRef"]
    assert reference == {"name": "housing-secrets", "key": "feedback-token"}


def test_monitor_exit_code_3_creates_the_retrain_job(rendered) -> None:
    cronjob = rendered["CronJob", "housing-monitor"]
    command = " ".join(_pod(cronjob)["containers"][0]["command"])
    assert re.search(r"housing monitor; code=\$\?;", command)
    assert 'delivery.dispatch --monitor-exit-code "$code" --kubernetes-cronjob housing-retrain' in (
        command
    )
    retrain = rendered["CronJob", "housing-retrain"]
    assert retrain["spec"]["suspend"] is True  # only the monitor (or a person) starts it
    assert _pod(retrain)["containers"][0]["command"][:2] == ["housing", "retrain"]
    assert cronjob["spec"]["concurrencyPolicy"] == "Forbid"
    # The monitor's service account may read that template and create Jobs, nothing else.
    assert _pod(cronjob)["serviceAccountName"] == "housing-monitor"
    rules = rendered["Role", "housing-monitor"]["rules"]
    assert {(tuple(r["resources"]), tuple(r["verbs"])) for r in rules} == {
        (("cronjobs",), ("get",)),
        (("jobs",), ("create",)),
    }
    assert rules[0]["resourceNames"] == ["housing-retrain"]


def test_renderer_refuses_what_it_does_not_implement(tmp_path) -> None:
    (tmp_path / "kustomization.yaml").write_text(
        "resources: []\ncommonLabels: {team: x}\n", encoding="utf-8"
    )
    with pytest.raises(RenderError, match="commonLabels"):
        render(tmp_path)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("directory", [BASE, OVERLAY], ids=["base", "overlay"])
def test_renderer_matches_kubectl_kustomize(directory) -> None:
    result = subprocess.run(
        ["kubectl", "kustomize", str(directory)], capture_output=True, text=True, check=True
    )
    expected = _by_kind([d for d in yaml.safe_load_all(result.stdout) if d])
    assert _by_kind(render(directory)) == expected
