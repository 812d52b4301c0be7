"""``housing build`` and ``housing containerize``: package the champion for deployment."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from cli.common import fail, settings_of
from housing import exit_codes

console = Console()


def build(ctx: typer.Context) -> None:
    """Build the Bento of the current champion and print its tag (reused if identical)."""
    from delivery.build import BuildError, build_bento

    settings = settings_of(ctx)
    try:
        with console.status("building the Bento (service, code, champion model, pins)"):
            tag = build_bento(settings)
    except BuildError as exc:
        fail(str(exc), exit_codes.FAILURE)
    typer.echo(tag)


def containerize(  # noqa: PLR0917 - typer maps parameters to options
    ctx: typer.Context,
    bento: Annotated[
        str | None,
        typer.Argument(help="Bento tag to containerize (default: build the champion's Bento)."),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(help="docker, podman or buildah (default: delivery.backend)."),
    ] = None,
    registry: Annotated[
        str | None,
        typer.Option(help="Registry prefix of the image, e.g. ghcr.io/OWNER."),
    ] = None,
    tag: Annotated[
        list[str] | None,
        typer.Option("--tag", "-t", help="Extra image tag (repeatable), e.g. for the commit."),
    ] = None,
    target: Annotated[
        str,
        typer.Option(help="service (the Bento's image) or monitor (monitor/retrain jobs' image)."),
    ] = "service",
) -> None:
    """Build the container image of a Bento (or of the monitor jobs) and print its reference."""
    from delivery import container as images
    from delivery.build import BuildError, build_bento, git_state, source_version
    from delivery.container import ContainerError, containerize, image_reference, pick_backend

    settings = settings_of(ctx)
    chosen = backend or settings.delivery.backend
    if chosen not in ("auto", "docker", "podman", "buildah"):
        fail(f"--backend: '{chosen}' is not one of auto, docker, podman, buildah")
    if target not in images.TARGETS:
        fail(f"--target: '{target}' is not one of {', '.join(images.TARGETS)}")
    if target == "monitor" and bento:
        fail(f"--target monitor builds deploy/tools.Dockerfile, not a Bento: drop '{bento}'")
    try:
        builder = pick_backend(chosen)
        if target == "monitor":
            version = source_version(git_state(settings.root))
            image = images.tools_image_reference(settings, version, registry)
            for name in images.build_tools_image(settings, image, builder, tuple(tag or ())):
                typer.echo(name)
            return
        bento_tag = bento or build_bento(settings)
        image = image_reference(settings, bento_tag, registry)
        tags = containerize(bento_tag, image, builder, tuple(tag or ()))
    except (BuildError, ContainerError) as exc:
        fail(str(exc), exit_codes.FAILURE)
    for name in tags:
        typer.echo(name)


# Registered by cli.main, in this order, each under its function's name.
COMMANDS = (build, containerize)
