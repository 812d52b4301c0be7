"""What must hold before a service starts: its ports are free, its state folders writable, its
model store readable. Each problem is one line naming the port or path, the setting and the
environment variable that change it.

Without this, a port in use ended ``bentoml serve`` with a bare ``Errno 98`` traceback (HTTP),
or left the workers crash-looping while ``/readyz`` answered 200 (gRPC: 22 tracebacks in two
minutes); an unwritable folder failed deep inside a worker (issue 10). ``housing serve`` and the
service's ``on_deployment`` hook (``bentoml serve`` run directly) both ask here, once, before
any worker starts, and exit non-zero on a problem.
"""

from __future__ import annotations

import os
import socket
import tempfile
from pathlib import Path

from housing.config import ENV_NESTING, ENV_PREFIX, Settings


def _variable(key: str) -> str:
    return ENV_PREFIX + key.upper().replace(".", ENV_NESTING)


def _setting(key: str) -> str:
    return f"set {key} in the configuration or ${_variable(key)}"


def port_in_use(host: str, port: int) -> bool:
    """True when nothing can listen on ``host:port`` now (another process holds it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return True
    return False


def _unwritable(folder: Path) -> str | None:
    """Why ``folder`` cannot hold state (created if missing), or None when it can."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def _sqlite_folder(url: str) -> Path | None:
    for prefix in ("sqlite:///", "sqlite+pysqlite:///"):
        if url.startswith(prefix) and not url[len(prefix) :].startswith(":memory:"):
            return Path(url[len(prefix) :].split("?", 1)[0]).parent
    return None


def startup_problems(settings: Settings, *, http_port: bool = True) -> list[str]:
    """One line per reason the service cannot start as configured (empty: go ahead).

    ``http_port=False`` when the HTTP port is not ``service.port`` (``bentoml serve --port`` or
    ``BENTOML_PORT`` in an image): BentoML binds it and reports it; the gRPC port is always
    the configured one."""
    service = settings.service
    problems: list[str] = []
    ports = [("gRPC", "service.grpc_port", service.grpc_port)]
    if http_port:
        ports.insert(0, ("HTTP", "service.port", service.port))
    for protocol, key, port in ports:
        if port_in_use(service.host, port):
            problems.append(
                f"{protocol} port {port} on {service.host} is in use: stop what holds it or "
                f"{_setting(key)}"
            )
    folders = [("storage.spool_dir", settings.storage.spool_dir)]
    database_folder = _sqlite_folder(settings.storage.url)
    if database_folder is not None:
        folders.append(("storage.url", database_folder))
    for key, folder in folders:
        reason = _unwritable(folder)
        if reason is not None:
            problems.append(f"state folder {folder} is not writable ({reason}): {_setting(key)}")
    models = settings.bentoml.home / "models"
    reason = _unreadable(models)
    if reason is not None:
        problems.append(
            f"model store {models} cannot be read ({reason}): {_setting('bentoml.home')}"
        )
    return problems


def _unreadable(folder: Path) -> str | None:
    """Why the model store ``folder`` cannot be listed, or None when it can (or is not there
    yet: BentoML creates it). Listing it, not asking ``os.access``: root passes every
    permission check, but not a store that is a regular file or a broken mount."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return "it is not a folder"
    try:
        with os.scandir(folder) as entries:
            next(entries, None)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None
