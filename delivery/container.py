"""Turn a Bento into a container image with whichever builder the machine has.

GitHub's runners have Docker; a developer box may only have podman or buildah (BentoML drives
all three). The image is tagged ``<delivery.image>:<bento version>``, so the image tag, like the
Bento tag, names the model version and the commit, and is never reused for other content.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from housing.config import Settings

BACKENDS = ("docker", "podman", "buildah")


class ContainerError(RuntimeError):
    """No builder is available or the image build failed."""


def pick_backend(preferred: str) -> str:
    """``preferred`` if it is installed; for ``auto`` the first of docker, podman, buildah.

    ``docker`` counts only when its daemon answers (a bare client is common where no engine runs).
    """
    candidates = BACKENDS if preferred == "auto" else (preferred,)
    for backend in candidates:
        executable = shutil.which(backend)
        if executable is None:
            continue
        if backend == "docker" and not _docker_daemon_answers(executable):
            continue
        return backend
    if preferred == "auto":
        raise ContainerError("no container builder found: install docker, podman or buildah")
    raise ContainerError(f"container backend '{preferred}' is not usable on this machine")


def _docker_daemon_answers(executable: str) -> bool:
    try:
        return (
            subprocess.run(
                [executable, "info", "--format", "{{.ServerVersion}}"],
                capture_output=True,
                timeout=15,
                check=False,
            ).returncode
            == 0
        )
    except (OSError, subprocess.TimeoutExpired):
        return False


def image_reference(settings: Settings, bento_tag: str, registry: str | None = None) -> str:
    """``[registry/]<image>:<bento version>`` for a Bento tag ``name:version``."""
    version = bento_tag.split(":", 1)[1] if ":" in bento_tag else "latest"
    repository = settings.delivery.image
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
        raise ContainerError(
            f"`bentoml containerize` failed with exit code {result.returncode} ({backend})"
        )
    return tags
