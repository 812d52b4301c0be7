"""Build the Bento: the service, its code, the champion model and locked requirements.

``bentofile.yaml`` holds everything static. What must not be hard-coded there is added here, at
build time, into a derived bentofile (``var/build/bentofile.yaml``, kept for inspection):

- ``models``: the BentoML tag of the model that is champion *now*;
- ``labels``: the git commit (and whether the tree was dirty), the model version, its MLflow run,
  so a running container can always say where it came from;
- ``python.requirements_txt``: exact pins exported from ``uv.lock``, the versions the tests ran;
- the version ``m<model version>-g<commit>``: a tag names its model and commit. A clean tree
  builds the same tag for the same inputs (and the existing Bento is reused, never overwritten);
  a dirty tree adds a unique suffix, so a tag never stands for two different contents.

Callers (``housing build``, ``housing retrain``) must have called
``housing.runtime.prepare_process(settings)`` so BentoML uses the configured store.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime
from pathlib import Path

import yaml

from housing.bundle import ModelRef, bento_labels
from housing.config import Settings
from housing.provenance import GitState, git_state

BENTOFILE = "bentofile.yaml"
BUILD_DIR = Path("var") / "build"
_TAG_UNSAFE = re.compile(r"[^a-z0-9_.-]+")
WHEELS_ONLY = "--only-binary :all:"
# BentoML's first image command installs these besides ca-certificates; the service needs none
# (bash is part of every Debian base image; gnupg2 alone is about 75 MB).
BENTOML_TOOLCHAIN = " gnupg2 bash build-essential git"
# What replaces them: apt's package lists and its binary caches go in the same layer. A base
# without the official image's `docker-clean` apt hook (e.g. scripts/container/base-image.sh's)
# otherwise keeps /var/cache/apt/*.bin: 75 MB of the serving image, measured.
APT_CLEANUP = " && apt-get clean && rm -rf /var/lib/apt/lists/*"


class BuildError(RuntimeError):
    """The Bento cannot be built; the message says what to fix."""


def bento_version(model_version: str, git: GitState) -> str:
    """``m<version>-g<commit8>``, plus ``-dirty-<time>-<random>`` for uncommitted code."""
    return source_version(git, prefix=f"m{model_version}-")


def source_version(git: GitState, prefix: str = "") -> str:
    """``<prefix>g<commit8>``, plus ``-dirty-<time>-<random>`` for uncommitted code."""
    version = f"{prefix}g{git.commit[:8]}"
    if git.dirty:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
        version += f"-dirty-{stamp}-{uuid.uuid4().hex[:6]}"
    return _TAG_UNSAFE.sub("-", version.lower())


def export_requirements(root: Path, destination: Path) -> Path:
    """Write the serving pins of ``uv.lock``: the project's own dependencies, wheels only.

    No dependency group (``ops``: training, monitoring, the MLflow server; ``dev``) and not the
    project itself. ``--only-binary :all:`` makes the image's install fail loudly instead of
    compiling, so the image needs no compiler (see :func:`drop_compilers`).
    """
    uv = _uv_command()
    if not (root / "uv.lock").is_file():
        raise BuildError(f"no uv.lock in {root}; the Bento's requirements come from the lock")
    destination.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            *uv,
            "export",
            "--frozen",
            "--no-default-groups",
            "--no-emit-project",
            "--no-hashes",
            "--no-header",
            "--format",
            "requirements-txt",
            "--output-file",
            str(destination),
        ],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildError(f"uv export failed: {result.stderr.strip().splitlines()[-1:]}")
    pins = destination.read_text(encoding="utf-8")
    destination.write_text(f"{WHEELS_ONLY}\n{pins}", encoding="utf-8")
    return destination


def drop_compilers(bento_dir: Path) -> None:
    """Remove BentoML's compiler toolchain (and gnupg2, git) from the Bento's image recipe.

    BentoML 1.4 always starts its Debian image with ``apt-get install ... ca-certificates gnupg2
    bash build-essential git`` (``CONTAINER_METADATA["debian"]["default_install_command"]``; no
    bentofile option removes it): a 639 MB layer, measured, that the service never uses, since
    every pin is installed from a wheel (``--only-binary :all:`` in the requirements). Only
    ca-certificates stays (105 MB with gnupg2 and bash, measured), and the same command cleans
    apt's caches (:data:`APT_CLEANUP`). The command is in ``bento.yaml``
    (``image.commands``, from which ``bentoml containerize`` regenerates the Dockerfile) and in
    ``env/docker/Dockerfile``: both are edited. Raises if BentoML's line changed, so an upgrade
    cannot silently bring the compilers back.
    """
    for relative in (Path("bento.yaml"), Path("env") / "docker" / "Dockerfile"):
        path = bento_dir / relative
        text = path.read_text(encoding="utf-8")
        if BENTOML_TOOLCHAIN not in text:
            raise BuildError(
                f"{path} no longer installs '{BENTOML_TOOLCHAIN.strip()}': check drop_compilers"
            )
        lean = text.replace(BENTOML_TOOLCHAIN, APT_CLEANUP, 1)
        path.write_text(lean, encoding="utf-8")
    commands = (yaml.safe_load((bento_dir / "bento.yaml").read_text()) or {})["image"]["commands"]
    if any("build-essential" in command for command in commands):
        raise BuildError(f"{bento_dir / 'bento.yaml'} still installs build-essential")


def _uv_command() -> list[str]:
    """uv on PATH, else the one ``make uv`` installs as a module of the system Python."""
    if uv := shutil.which("uv"):
        return [uv]
    python = shutil.which("python3")
    if python:
        probe = subprocess.run([python, "-m", "uv", "--version"], capture_output=True, check=False)
        if probe.returncode == 0:
            return [python, "-m", "uv"]
    raise BuildError("uv is not installed; it exports the locked requirements (make install)")


def derived_bentofile(
    settings: Settings, champion: ModelRef, git: GitState, requirements: Path
) -> dict:
    """The static bentofile plus the model, labels, requirements and base image of this build."""
    source = settings.root / BENTOFILE
    try:
        config = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise BuildError(f"cannot read {source}: {exc.strerror or exc}") from exc
    config["name"] = settings.bentoml.bento_name
    config["models"] = [champion.bento_tag]
    config["labels"] = {
        **(config.get("labels") or {}),
        "git_commit": git.commit,
        "git_dirty": str(git.dirty).lower(),
        **bento_labels(champion),
    }
    python = dict(config.get("python") or {})
    python["requirements_txt"] = str(requirements.relative_to(settings.root))
    python["lock_packages"] = False
    config["python"] = python
    if settings.delivery.base_image:
        docker = dict(config.get("docker") or {})
        docker["base_image"] = settings.delivery.base_image
        config["docker"] = docker
    return config


def build_bento(settings: Settings, champion: ModelRef | None = None) -> str:
    """Build (or reuse) the Bento of ``champion`` (default: the current champion); return its tag.

    Raises :class:`BuildError` with a one-line reason when there is no champion, no lock file or
    BentoML refuses the build. Reuses an existing Bento only when the tag is identical, which
    happens only for a clean tree with the same commit and model version.

    ``bentoml build`` runs as a subprocess: it imports ``service.py``, which loads the
    configuration and prepares its process, and that must not change the caller's process.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    if champion is None:
        champion = current_champion(settings)
    git = git_state(settings.root)
    version = bento_version(str(champion.version), git)
    tag = f"{settings.bentoml.bento_name}:{version}"
    try:
        bentoml.bentos.get(tag)
        return tag
    except NotFound:
        pass
    build_dir = settings.root / BUILD_DIR
    requirements = export_requirements(settings.root, build_dir / "requirements.txt")
    config = derived_bentofile(settings, champion, git, requirements)
    bentofile = build_dir / "bentofile.yaml"
    bentofile.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    _run_bentoml_build(settings, bentofile, version)
    drop_compilers(Path(bentoml.bentos.get(tag).path))
    return tag


def _run_bentoml_build(settings: Settings, bentofile: Path, version: str) -> None:
    environ = {
        **os.environ,
        "BENTOML_HOME": str(settings.bentoml.home),
        "HOUSING_CONFIG": str(settings.source),
        # Importing the service checks for a feedback token; the build needs none, and the
        # Bento itself still refuses to start without one (this is not among its envs).
        "HOUSING_SERVICE__FEEDBACK__ALLOW_UNAUTHENTICATED": "true",
    }
    command = [
        str(Path(sys.executable).with_name("bentoml")),
        "build",
        "--bentofile",
        str(bentofile),
        "--version",
        version,
        "--output",
        "tag",
        str(settings.root),
    ]
    result = subprocess.run(
        command, cwd=settings.root, env=environ, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        reason = next(
            (line for line in reversed(lines) if "Error" in line or "error" in line),
            lines[-1] if lines else f"exit code {result.returncode}",
        )
        raise BuildError(f"bentoml build failed: {reason.strip()}")


def current_champion(settings: Settings) -> ModelRef:
    """The champion named by the MLflow alias, with the BentoML model saved for it."""
    from housing import registry

    try:
        champion = registry.get_champion(settings)
    except registry.RegistryError as exc:
        raise BuildError(str(exc)) from exc
    if champion is None:
        raise BuildError("there is no champion model yet; run `housing train` first")
    return champion
