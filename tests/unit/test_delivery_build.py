"""Bento build inputs: immutable tags, the derived bentofile, the locked requirements."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from delivery.build import (
    APT_CLEANUP,
    BuildError,
    GitState,
    bento_version,
    derived_bentofile,
    drop_compilers,
    export_requirements,
    git_state,
)
from delivery.container import ContainerError, image_reference, pick_backend
from housing.bundle import ModelRef
from housing.config import load_config

ROOT = Path(__file__).resolve().parents[2]
CHAMPION = ModelRef(7, "0123456789abcdef", "housing_price:abc123")


@pytest.fixture(scope="module")
def settings():
    return load_config(ROOT / "configuration.yaml", environ={})


def test_clean_tree_version_names_model_and_commit_and_is_stable() -> None:
    git = GitState(commit="4a97c8d0ffee1234", dirty=False)
    assert bento_version("7", git) == "m7-g4a97c8d0"
    assert bento_version("7", git) == bento_version("7", git)


def test_dirty_tree_version_is_never_reused() -> None:
    git = GitState(commit="4a97c8d0ffee1234", dirty=True)
    first, second = bento_version("7", git), bento_version("7", git)
    assert first.startswith("m7-g4a97c8d0-dirty-")
    assert first != second
    assert re.fullmatch(r"[a-z0-9_.-]+", first)


def test_git_state_outside_a_checkout_is_unknown_and_dirty(tmp_path: Path) -> None:
    assert git_state(tmp_path) == GitState(commit="unknown", dirty=True)


def test_git_state_of_this_checkout_is_its_head() -> None:
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    assert git_state(ROOT).commit == head


def test_derived_bentofile_adds_model_labels_and_pins(settings, tmp_path: Path) -> None:
    requirements = settings.root / "var" / "build" / "requirements.txt"
    config = derived_bentofile(settings, CHAMPION, GitState("c0ffee12345678", False), requirements)
    assert config["models"] == ["housing_price:abc123"]
    assert config["name"] == settings.bentoml.bento_name
    assert config["labels"]["git_commit"] == "c0ffee12345678"
    assert config["labels"]["git_dirty"] == "false"
    assert config["labels"]["model_version"] == "7"
    assert config["labels"]["mlflow_run_id"] == "0123456789abcdef"
    assert config["python"] == {
        "requirements_txt": "var/build/requirements.txt",
        "lock_packages": False,
    }
    assert config["docker"]["python_version"] == "3.11"
    assert "base_image" not in config["docker"]
    assert "/service.py" in config["include"]  # anchored: only the root's entry point ships
    assert {"name": "HOUSING_SERVICE__HOST", "value": "0.0.0.0"} in config["envs"]
    # The image's package install leaves no uv cache behind (it would ship in the image).
    assert {"name": "UV_NO_CACHE", "value": "1"} in config["envs"]


def test_air_gapped_base_image_comes_from_the_configuration(tmp_path: Path) -> None:
    settings = load_config(
        ROOT / "configuration.yaml",
        environ={"HOUSING_DELIVERY__BASE_IMAGE": "mirror.local/python:3.11-slim"},
    )
    config = derived_bentofile(
        settings, CHAMPION, GitState("c0ffee", False), settings.root / "var/build/r.txt"
    )
    assert config["docker"]["base_image"] == "mirror.local/python:3.11-slim"


def test_exported_requirements_pin_the_locked_runtime(tmp_path: Path) -> None:
    path = export_requirements(ROOT, tmp_path / "requirements.txt")
    lines = [line for line in path.read_text().splitlines() if line and line[0].isalpha()]
    pins = dict(line.split(" ;")[0].split("==", 1) for line in lines)
    assert "bentoml" in pins
    assert "scikit-learn" in pins
    assert "pytest" not in pins  # dev tools stay out of the image
    lock = (ROOT / "uv.lock").read_text()
    assert f'name = "bentoml"\nversion = "{pins["bentoml"]}"' in lock
    # The serving image: the MLflow client, not its server (flask, pyarrow, the UI), and none of
    # the monitoring, scheduling or plotting stack; every package from a wheel.
    assert "mlflow-skinny" in pins
    assert not {"mlflow", "evidently", "apscheduler", "matplotlib", "pyarrow", "flask"} & set(pins)
    assert path.read_text().splitlines()[0] == "--only-binary :all:"


def test_bento_image_recipe_loses_the_compilers_and_nothing_else(tmp_path: Path) -> None:
    docker = tmp_path / "env" / "docker"
    docker.mkdir(parents=True)
    install = (
        "apt-get update && apt-get install -q -y --no-install-recommends "
        "--allow-remove-essential ca-certificates gnupg2 bash build-essential git"
    )
    (docker / "Dockerfile").write_text(f"FROM python:3.11-slim\nRUN {install}\nUSER bentoml\n")
    # bento.yaml as BentoML writes it: the long command folded over two lines.
    recipe = {"name": "x", "image": {"base_image": "python:3.11-slim", "commands": [install]}}
    (tmp_path / "bento.yaml").write_text(yaml.safe_dump(recipe, width=90))
    assert "\n    ca-certificates" in (tmp_path / "bento.yaml").read_text()

    drop_compilers(tmp_path)
    lean = (docker / "Dockerfile").read_text()
    assert "build-essential" not in lean
    # apt's lists and binary caches are removed in the same layer (75 MB on a base without the
    # official image's docker-clean hook).
    assert (
        "--allow-remove-essential ca-certificates && apt-get clean && rm -rf /var/lib/apt/lists/*\n"
    ) in lean
    assert lean.startswith("FROM python:3.11-slim\n") and lean.endswith("USER bentoml\n")
    image = yaml.safe_load((tmp_path / "bento.yaml").read_text())["image"]
    assert image["commands"] == [install.replace(" gnupg2 bash build-essential git", APT_CLEANUP)]
    assert image["base_image"] == "python:3.11-slim"
    with pytest.raises(BuildError, match="no longer installs 'gnupg2 bash build-essential git'"):
        drop_compilers(tmp_path)  # BentoML's line changed: say so, never build a fat image


def test_image_reference_reuses_the_bento_version(settings) -> None:
    tag = "housing_price_service:m7-g4a97c8d0"
    assert image_reference(settings, tag) == "housing-price:m7-g4a97c8d0"
    assert image_reference(settings, tag, "ghcr.io/acme/") == (
        "ghcr.io/acme/housing-price:m7-g4a97c8d0"
    )


def test_unknown_backend_is_a_clear_error(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(ContainerError, match="no usable container builder") as auto:
        pick_backend("auto")
    assert "docker: not installed; podman: not installed; buildah: not installed" in str(auto.value)
    with pytest.raises(ContainerError, match="'podman' is not usable: podman: not installed"):
        pick_backend("podman")
