"""The compose stack's files agree with each other and with the configuration.

No Docker engine runs here (the topology itself is exercised natively by
tests/integration/test_delivery_scaleout.py); these checks catch what would only fail at
``docker compose up``: a misspelt ``HOUSING_*`` override, a port published beyond 127.0.0.1, a
Prometheus target or a Grafana path that points nowhere.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml

from housing.config import load_config

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))


def _substitute(value: str) -> str:
    """Compose's ``${VAR:-default}`` as its default; ``${VAR:?msg}``/``${VAR}`` as a stand-in."""

    def replace(match: re.Match[str]) -> str:
        name, operator, rest = match.groups()
        return rest if operator == ":-" else f"x{name.lower()}"

    return re.sub(r"\$\{([A-Z_]+)(:[-?])?([^}]*)\}", replace, value)


def test_every_housing_override_in_the_stack_is_a_valid_configuration(compose) -> None:
    for name, service in compose["services"].items():
        environment = {
            key: _substitute(str(value))
            for key, value in (service.get("environment") or {}).items()
            if key.startswith("HOUSING_")
        }
        if environment:
            settings = load_config(ROOT / "configuration.yaml", environ=environment)
            assert settings.mlflow.tracking_uri == "http://mlflow:5000", name
            assert settings.storage.url.startswith("postgresql+psycopg://"), name
            assert settings.mlflow.artifact_location is None, name


def test_published_ports_bind_loopback_only(compose) -> None:
    for name, service in compose["services"].items():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port}"


def test_the_service_runs_the_bento_image_with_replicas(compose) -> None:
    service = compose["services"]["service"]
    assert service["image"].startswith("${HOUSING_IMAGE")
    assert "${SERVICE_REPLICAS" in str(service["deploy"]["replicas"])
    assert set(service["expose"]) == {"3000", "3001"}


def test_prometheus_scrapes_the_compose_service(compose) -> None:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text(encoding="utf-8"))
    job = next(j for j in config["scrape_configs"] if j["job_name"] == "housing-service")
    (discovery,) = job["dns_sd_configs"]
    assert discovery["names"] == ["service"] and discovery["port"] == 3000
    assert "service" in compose["services"]
    dashboard = (DEPLOY / "grafana/dashboards/housing.json").read_text(encoding="utf-8")
    assert 'job=\\"housing-service\\"' in dashboard


def test_grafana_provisioning_points_at_the_mounted_dashboard(compose) -> None:
    grafana = compose["services"]["grafana"]
    mounts = dict(volume.split(":")[:2] for volume in grafana["volumes"])
    provider = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/dashboards/housing.yml").read_text(encoding="utf-8")
    )
    dashboards_dir = provider["providers"][0]["options"]["path"]
    assert mounts["./grafana/dashboards"] == dashboards_dir
    dashboard = json.loads((DEPLOY / "grafana/dashboards/housing.json").read_text())
    titles = {panel["title"] for panel in dashboard["panels"]}
    for wanted in ("Request rate", "latency", "batch size", "Drift share", "Live RMSE", "Verdict"):
        assert any(wanted.lower() in title.lower() for title in titles), wanted
    datasource = yaml.safe_load(
        (DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text(encoding="utf-8")
    )
    uid = datasource["datasources"][0]["uid"]
    assert all(
        panel["datasource"]["uid"] == uid for panel in dashboard["panels"] if "targets" in panel
    )


def test_nginx_balances_http_and_grpc_over_the_replicas() -> None:
    conf = (DEPLOY / "nginx/nginx.conf").read_text(encoding="utf-8")
    assert "server service:3000 resolve;" in conf
    assert "server service:3001 resolve;" in conf
    assert "listen 3001 http2;" in conf and "grpc_pass grpc://service_grpc;" in conf


def test_mlflow_gets_its_own_database() -> None:
    init = (DEPLOY / "postgres/init.sql").read_text(encoding="utf-8")
    assert "CREATE DATABASE mlflow" in init
