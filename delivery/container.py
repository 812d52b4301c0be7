"""Turn a Bento into a container image with whichever builder the machine has.

GitHub's runners have Docker; a developer box may only have podman or buildah (BentoML drives
all three). The image is tagged ``<delivery.image>:<bento version>``, so the image tag, like the
Bento tag, names the model version and the commit, and is never reused for other content.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from housing.config import Settings

BACKENDS = ("docker", "podman", "buildah")
TARGETS = ("service", "monitor")
# The control-plane image: `housing` CLI (monitor, retrain, train, schedule) and the MLflow
# server, from the same uv.lock as the Bento (serving dependencies + the `ops` group).
TOOLS_DOCKERFILE = Path("deploy") / "tools.Dockerfile"


class ContainerError(RuntimeError):
    """No builder is available or the image build failed."""


# What makes each builder usable, said once, in the error a user sees when none is.
FIXES = {
    "docker": "start the Docker daemon (or point DOCKER_HOST at one)",
    "podman": (
        "install podman and runc (Debian: apt-get install podman runc); where its defaults are "
        "refused (crun, open-files limit) or Docker Hub is unreachable, run "
        "`LOCAL_CONTAINERS=1 make container-smoke` once or set "
        "CONTAINERS_CONF=scripts/container/containers.conf and build the base image with "
        "scripts/container/base-image.sh (docs/deploy.md section 2)"
    ),
    "buildah": (
        "install buildah and runc (Debian: apt-get install buildah runc) and set "
        "CONTAINERS_CONF=scripts/container/containers.conf"
    ),
}
PROBE_TIMEOUT_S = 15


@dataclass(frozen=True)
class Probe:
    """Whether one builder can build here, and if not, why (one short phrase)."""

    backend: str
    usable: bool
    reason: str = ""


def probe_backend(backend: str) -> Probe:
    """Ask the builder itself: installed, and (docker) its daemon, (podman/buildah) its storage."""
    executable = shutil.which(backend)
    if executable is None:
        return Probe(backend, False, "not installed")
    command = {
        "docker": [executable, "info", "--format", "{{.ServerVersion}}"],
        "podman": [executable, "info", "--format", "{{.Host.OCIRuntime.Name}}"],
        "buildah": [executable, "info"],
    }[backend]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired:
        return Probe(backend, False, f"`{backend} info` did not answer in {PROBE_TIMEOUT_S} s")
    except OSError as exc:
        return Probe(backend, False, f"cannot run {executable}: {exc.strerror or exc}")
    if result.returncode == 0:
        return Probe(backend, True)
    return Probe(backend, False, _why_info_failed(backend, result.stderr or result.stdout))


def _why_info_failed(backend: str, output: str) -> str:
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    detail = lines[-1] if lines else "no output"
    lowered = output.lower()
    if backend == "docker" and ("daemon" in lowered or "docker.sock" in lowered):
        return f"the client is installed but no daemon answers ({detail})"
    if "newuidmap" in lowered or "subuid" in lowered or "subgid" in lowered:
        return f"rootless mode lacks /etc/subuid and /etc/subgid entries ({detail})"
    return f"`{backend} info` failed ({detail})"


def pick_backend(preferred: str) -> str:
    """``preferred`` if it can build; for ``auto`` the first usable of docker, podman, buildah.

    A builder counts only when ``<builder> info`` works: a docker client without a daemon is
    common. When none is usable, the error names every builder tried, why each is unusable,
    and the settings that fix it, in one line.
    """
    candidates = BACKENDS if preferred == "auto" else (preferred,)
    probes = []
    for backend in candidates:
        probe = probe_backend(backend)
        if probe.usable:
            return backend
        probes.append(probe)
    tried = "; ".join(f"{probe.backend}: {probe.reason}" for probe in probes)
    fixes = [FIXES[p.backend] for p in probes if p.backend in FIXES]
    if preferred == "auto":
        fixes = [FIXES["docker"], FIXES["podman"]]
    hint = " Fix: " + ", or ".join(fixes) + "." if fixes else ""
    message = (
        f"no usable container builder ({tried}).{hint}"
        if preferred == "auto"
        else f"container backend '{preferred}' is not usable: {tried}.{hint}"
    )
    raise ContainerError(message)


def image_reference(settings: Settings, bento_tag: str, registry: str | None = None) -> str:
    """``[registry/]<image>:<bento version>`` for a Bento tag ``name:version``."""
    version = bento_tag.split(":", 1)[1] if ":" in bento_tag else "latest"
    return _reference(settings.delivery.image, version, registry)


def _reference(repository: str, version: str, registry: str | None) -> str:
    if registry:
        repository = f"{registry.rstrip('/')}/{repository}"
    return f"{repository}:{version}"


def containerize(
    bento_tag: str, image: str, backend: str, extra_tags: tuple[str, ...] = ()
) -> list[str]:
    """Build the image of ``bento_tag`` with ``bentoml containerize``; return the image tags.

    Output streams to the terminal (image builds are long and users want to see the layers).
    """
    bentoml_cli = Path(sys.executable).with_name("bentoml")
    command = [str(bentoml_cli), "containerize", bento_tag, "--backend", backend]
    tags = [image, *extra_tags]
    for tag in tags:
        command += ["--image-tag", tag]
    result = subprocess.run(command, check=False)
    if result.returncode != 0:
        hint = ""
        if backend in ("podman", "buildah") and not os.environ.get("CONTAINERS_CONF"):
            hint = f"; if it failed on ulimits, crun or the base image: {FIXES['podman']}"
        raise ContainerError(
            f"`bentoml containerize` failed with exit code {result.returncode} ({backend}){hint}"
        )
    return tags


def tools_image_reference(settings: Settings, version: str, registry: str | None = None) -> str:
    """``[registry/]<delivery.tools_image>:<version>`` for the monitor/retrain image."""
    return _reference(settings.delivery.tools_image, version, registry)


def build_tools_image(
    settings: Settings, image: str, backend: str, extra_tags: tuple[str, ...] = ()
) -> list[str]:
    """Build ``deploy/tools.Dockerfile`` (the monitor and retrain jobs' image); its tags."""
    tags = [image, *extra_tags]
    command = [backend, "build", "-f", str(settings.root / TOOLS_DOCKERFILE)]
    if settings.delivery.base_image:
        command += ["--build-arg", f"BASE_IMAGE={settings.delivery.base_image}"]
    for tag in tags:
        command += ["-t", tag]
    result = subprocess.run([*command, str(settings.root)], check=False)
    if result.returncode != 0:
        raise ContainerError(
            f"`{backend} build -f {TOOLS_DOCKERFILE}` failed with exit code {result.returncode}"
        )
    return tags
