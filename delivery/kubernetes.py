"""Render ``deploy/kubernetes`` offline: the subset of kustomize that its files use.

``kubectl kustomize`` (or ``kustomize build``) is the real renderer, but neither is on PyPI, and
``make test`` must validate the manifests on a clean clone. This renders the same output for the
features ``deploy/kubernetes`` uses, and refuses any other field by name instead of silently
ignoring it:

- ``resources``: YAML files (several documents each) and other kustomization directories;
- ``namespace``: set on every namespaced object, and on ``ServiceAccount`` subjects of
  ``RoleBinding``s that name a ServiceAccount of the same build (as kustomize does);
- ``images``: ``name`` -> ``newName``/``newTag`` in every container and init container;
- ``patches``: inline JSON 6902 patches (add/replace/remove) with a ``kind``/``name`` target.

``tests/unit/test_delivery_kubernetes.py`` compares this output with ``kubectl kustomize``
where kubectl is installed (GitHub's runners have it).

    python -m delivery.kubernetes deploy/kubernetes/overlays/example > rendered.yaml
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import yaml

from housing import exit_codes

KUSTOMIZATION = "kustomization.yaml"
SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "namespace", "images", "patches"}
CLUSTER_SCOPED_KINDS = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
}
# Where pod templates sit in each workload kind.
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
    "Pod": ("spec",),
}


class RenderError(ValueError):
    """A kustomization uses something this renderer does not support, or is malformed."""


def render(directory: Path) -> list[dict[str, Any]]:
    """All objects of the kustomization in ``directory``, transformed as kustomize would."""
    kustomization = _load_kustomization(directory)
    objects: list[dict[str, Any]] = []
    for entry in kustomization.get("resources") or []:
        path = directory / entry
        if path.is_dir():
            objects.extend(render(path))
        elif path.is_file():
            objects.extend(_documents(path))
        else:
            raise RenderError(f"{directory / KUSTOMIZATION}: resource '{entry}' does not exist")
    for patch in kustomization.get("patches") or []:
        _apply_patch(objects, patch, directory)
    for image in kustomization.get("images") or []:
        _set_image(objects, image)
    if namespace := kustomization.get("namespace"):
        _set_namespace(objects, namespace)
    return objects


def render_yaml(directory: Path) -> str:
    return yaml.safe_dump_all(render(directory), sort_keys=False)


def _load_kustomization(directory: Path) -> dict[str, Any]:
    path = directory / KUSTOMIZATION
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise RenderError(f"cannot read {path}: {exc.strerror or exc}") from exc
    unsupported = sorted(set(document) - SUPPORTED_FIELDS)
    if unsupported:
        raise RenderError(f"{path}: fields {unsupported} are not supported by this renderer")
    return document


def _documents(path: Path) -> Iterator[dict[str, Any]]:
    for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
        if document is None:
            continue
        if not isinstance(document, dict) or "kind" not in document:
            raise RenderError(f"{path}: a document without `kind`")
        yield document


def _apply_patch(objects: list[dict[str, Any]], patch: dict[str, Any], where: Path) -> None:
    target = patch.get("target") or {}
    if set(patch) != {"target", "patch"} or set(target) - {"kind", "name"}:
        raise RenderError(f"{where}: only inline JSON 6902 patches with a kind/name target")
    operations = yaml.safe_load(patch["patch"])
    matched = [
        obj
        for obj in objects
        if obj["kind"] == target.get("kind", obj["kind"])
        and obj["metadata"]["name"] == target.get("name", obj["metadata"]["name"])
    ]
    if not matched:
        raise RenderError(f"{where}: patch target {target} matches no resource")
    for obj in matched:
        for operation in operations:
            _json_patch(obj, operation)


def _json_patch(document: dict[str, Any], operation: dict[str, Any]) -> None:
    """RFC 6902 ``add``, ``replace`` and ``remove`` on one object."""
    op = operation.get("op")
    keys = [key.replace("~1", "/").replace("~0", "~") for key in operation["path"].split("/")[1:]]
    parent: Any = document
    for key in keys[:-1]:
        parent = parent[int(key)] if isinstance(parent, list) else parent[key]
    last = keys[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if op == "add":
            parent.insert(index, copy.deepcopy(operation["value"]))
        elif op == "replace":
            parent[index] = copy.deepcopy(operation["value"])
        elif op == "remove":
            del parent[index]
        else:
            raise RenderError(f"JSON patch operation '{op}' is not supported")
        return
    if op == "replace" and last not in parent:
        raise RenderError(f"JSON patch: replace of missing path {operation['path']}")
    if op in ("add", "replace"):
        parent[last] = copy.deepcopy(operation["value"])
    elif op == "remove":
        del parent[last]
    else:
        raise RenderError(f"JSON patch operation '{op}' is not supported")


def _pod_specs(obj: dict[str, Any]) -> Iterator[dict[str, Any]]:
    path = POD_SPEC_PATHS.get(obj["kind"])
    if path is None:
        return
    node: Any = obj
    for key in path:
        node = (node or {}).get(key)
    if node:
        yield node


def _set_image(objects: list[dict[str, Any]], image: dict[str, Any]) -> None:
    name = image["name"]
    for obj in objects:
        for pod in _pod_specs(obj):
            for container in [*pod.get("containers", []), *pod.get("initContainers", [])]:
                current = container.get("image", "")
                repository, _, tag = current.partition(":")
                if repository != name:
                    continue
                repository = image.get("newName", repository)
                tag = str(image.get("newTag", tag))
                container["image"] = f"{repository}:{tag}" if tag else repository


def _set_namespace(objects: list[dict[str, Any]], namespace: str) -> None:
    accounts = {o["metadata"]["name"] for o in objects if o["kind"] == "ServiceAccount"}
    for obj in objects:
        if obj["kind"] not in CLUSTER_SCOPED_KINDS:
            obj["metadata"]["namespace"] = namespace
        if obj["kind"] in ("RoleBinding", "ClusterRoleBinding"):
            for subject in obj.get("subjects") or []:
                if subject.get("kind") == "ServiceAccount" and subject.get("name") in accounts:
                    subject["namespace"] = namespace


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: python -m delivery.kubernetes KUSTOMIZATION_DIR", file=sys.stderr)
        return exit_codes.BAD_INPUT
    try:
        sys.stdout.write(render_yaml(Path(args[0])))
    except RenderError as exc:
        return exit_codes.script_failure(exc, exit_codes.BAD_INPUT)
    return exit_codes.HEALTHY


if __name__ == "__main__":
    sys.exit(main())
