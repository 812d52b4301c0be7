"""The served OpenAPI document, completed so that it tells what the service really answers.

BentoML generates the document from the ``@bentoml.api`` signatures, but the POST routes are
answered by :class:`serving.http.JsonRoutes`, the size/token guard and the ``GET /model``
route, which BentoML does not know about. Its document said a 400's ``detail`` is a string (it
is a list of violations), left out 401, 413, 415 and 503, did not mark request bodies required
and had no ``GET /model`` (issue 10). :func:`complete_document` adds what each route can
answer, from the same models the routes use; ``make test`` fuzzes the served document against
the running service (schemathesis, ``tests/integration/test_openapi_fuzz.py``), so the two
cannot drift apart unnoticed.

``GET /docs`` serves the interactive UI that BentoML serves at ``/`` (both stay).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.http import json_response

_ERROR = {
    "type": "object",
    "title": "Error",
    "required": ["error"],
    "properties": {"error": {"type": "string", "description": "what went wrong, in words"}},
}
_VIOLATIONS = {
    "type": "object",
    "title": "ValidationError",
    "required": ["error", "detail"],
    "properties": {
        "error": {"type": "string"},
        "detail": {
            "type": "array",
            "description": "one entry per violation: where (request key, record index, field)"
            " and why",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"anyOf": [{"type": "string"},
                                                                 {"type": "integer"}]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        },
    },
}  # fmt: skip
_REASONS = {
    400: ("the request breaks the schema: each violation in `detail`", "ValidationError"),
    401: ("missing or invalid bearer token", "Error"),
    404: ("the route is disabled by configuration", "Error"),
    408: (
        "the headers (service.header_read_timeout_s) or the body, sized or chunked "
        "(service.body_read_timeout_s), did not arrive in time; the connection is closed",
        "Error",
    ),
    413: ("the body exceeds service.max_body_bytes", "Error"),
    415: ("the body is not application/json", "Error"),
    503: ("no champion loaded, overloaded, or the log/store is unavailable; retry", "Error"),
}


@dataclass(frozen=True)
class RouteContract:
    """What one route of the service takes and answers besides its 200."""

    method: str
    request: type[BaseModel] | None = None  # the JSON body (all POST routes: required)
    ok: dict[str, Any] | None = None  # schema of the 200 body, when BentoML has none
    statuses: tuple[int, ...] = ()
    protected: bool = False
    summary: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _inline(schema: dict[str, Any], schemas: dict[str, Any]) -> dict[str, Any]:
    """A pydantic JSON schema with its ``$defs`` moved to the document's components."""
    schema = copy.deepcopy(schema)
    for name, definition in schema.pop("$defs", {}).items():
        schemas.setdefault(name, definition)
    return _rewrite_refs(schema)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (value.replace("#/$defs/", "#/components/schemas/") if key == "$ref" else
                  _rewrite_refs(value))
            for key, value in node.items()
        }  # fmt: skip
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def complete_document(base: Mapping[str, Any], routes: Mapping[str, RouteContract]) -> dict:
    """BentoML's document plus, per route: required body, every status with its body schema,
    the bearer scheme on protected routes; routes BentoML does not know are added."""
    document = copy.deepcopy(dict(base))
    components = document.setdefault("components", {})
    schemas = components.setdefault("schemas", {})
    schemas["Error"] = _ERROR
    schemas["ValidationError"] = _VIOLATIONS
    for unused in ("InvalidArgument", "NotFound", "InternalServerError"):
        schemas.pop(unused, None)
    components.setdefault("securitySchemes", {})["bearer"] = {"type": "http", "scheme": "bearer"}
    for path, contract in routes.items():
        operation = (
            document.setdefault("paths", {})
            .setdefault(path, {})
            .setdefault(contract.method, {"tags": ["Service APIs"], "operationId": path.strip("/")})
        )
        if contract.summary:
            operation.setdefault("description", contract.summary)
        responses = operation.setdefault("responses", {})
        ok = responses.get("200") or responses.get(200) or {"description": "Successful Response"}
        if contract.ok is not None:
            ok["content"] = {"application/json": {"schema": _inline(contract.ok, schemas)}}
        answers: dict[str, Any] = {"200": ok}
        for status in contract.statuses:
            description, schema = _REASONS[status]
            reference = {"$ref": f"#/components/schemas/{schema}"}
            answers[str(status)] = {
                "description": description,
                "content": {"application/json": {"schema": reference}},
            }
        operation["responses"] = answers
        if contract.request is not None:
            body = _inline(contract.request.model_json_schema(), schemas)
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": body}},
            }
        if contract.protected:
            operation["security"] = [{"bearer": []}]
        operation.update(contract.extra)
    return document


class ServiceDocument:
    """ASGI middleware: ``GET /docs.json`` answers the completed document (built once, on the
    first request, when BentoML's part is known); ``GET /docs`` is the UI BentoML serves at
    ``/`` (its relative links to ``./docs.json`` and ``./static_content`` resolve the same)."""

    def __init__(self, app: ASGIApp, *, build: Callable[[], dict]) -> None:
        self.app = app
        self.build = build
        self._body: bytes | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "HEAD"):
            await self.app(scope, receive, send)
            return
        if scope["path"] == "/docs":
            await self.app(dict(scope, path="/", raw_path=b"/"), receive, send)
            return
        if scope["path"] != "/docs.json":
            await self.app(scope, receive, send)
            return
        if self._body is None:
            self._body = json_response(self.build()).body
        await Response(self._body, media_type="application/json")(scope, receive, send)
