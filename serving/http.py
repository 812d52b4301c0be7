"""HTTP-only pieces: the request guard middleware, JSON answers and the ``GET /model`` and
``GET /model/card`` routes.

The guard runs before BentoML parses a body, so an oversized body is refused with 413 without
being read into memory, and a feedback call without a valid token gets 401 before anything
about the payload is revealed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from pydantic import ValidationError
from pydantic_core import to_json
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from housing.model_card import render_html
from serving.auth import bearer_matches
from serving.errors import NoChampion, status_of

_JSON = msgspec.json.Encoder()
logger = logging.getLogger(__name__)


def json_response(payload: Any, status_code: int = 200) -> Response:
    """Serialize directly with msgspec (100 answers: 43 us, pydantic-core's encoder 89 us, the
    stdlib's about 6x that); pydantic models and other types msgspec does not know go through
    pydantic-core.

    BentoML's output path would rebuild the OpenAPI schema of the return type on every
    response (a third of the CPU of a request, profiled)."""
    try:
        body = _JSON.encode(payload)
    except TypeError:
        body = to_json(payload)
    return Response(body, status_code=status_code, media_type="application/json")


def error_response(status_code: int, message: str, **extra: Any) -> Response:
    return json_response({"error": message, **extra}, status_code)


def body_timeout_response(timeout_s: float) -> Response:
    """408 for a body not received in full within ``service.body_read_timeout_s``; the
    connection is closed after it (the rest of the body would be read as a next request)."""
    response = error_response(408, f"request body not received within {timeout_s:g} s")
    response.headers["connection"] = "close"
    return response


def outcome_response(exc: BaseException) -> Response:
    """The HTTP answer to an outcome of the core, by the one mapping in ``serving.errors``."""
    status = status_of(exc)
    return error_response(status.http, status.message)


class RequestContext:
    """ASGI middleware: BentoML's request context and API response headers on ``paths``.

    BentoML sets its request context (``bentoml.Context``: ``ctx.request`` for code that runs
    in the request, the request id in the ASGI scope) in its innermost middleware, and its API
    wrapper adds ``Server: BentoML Service/<name>`` and ``X-BentoML-Request-ID`` (the request's
    trace span, on traced routes). The project's middlewares answer every POST route outside
    both (issue 10), so this sets the context the same way, through the service's own
    ``Context.in_request``, outside the guard (401, 408, 413 and 415 answers get it too), and
    adds the same two headers.
    """

    def __init__(self, app: ASGIApp, *, context: Any, service_name: str, paths: set[str]) -> None:
        self.app = app
        self.context = context
        self.server = f"BentoML Service/{service_name}".encode("latin-1")
        self.paths = paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] not in self.paths:
            await self.app(scope, receive, send)
            return
        with self.context.in_request(Request(scope, receive, send)):
            # in_request put BentoML's request id here (the trace span; None when untraced)
            request_id = scope.get("request_id")
            added = [(b"server", self.server)]
            if request_id is not None:  # in BentoML's default span_id format
                added.append((b"x-bentoml-request-id", b"%016x" % request_id))

            async def send_with_headers(message: Message) -> None:
                if message["type"] == "http.response.start":
                    message = {**message, "headers": [*message.get("headers", ()), *added]}
                await send(message)

            await self.app(scope, receive, send_with_headers)


class RequestGuard:
    """ASGI middleware: body-size limit on every POST, bearer token on protected paths.

    ``tokens`` maps a path to its token; ``None`` leaves that path open (feedback with
    ``allow_unauthenticated``; the admin route then answers 404 itself). ``body_timeout_s``
    bounds the reading of a body without Content-Length (chunked), which happens here.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        body_timeout_s: float,
        tokens: dict[str, str | None] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_timeout_s = body_timeout_s
        self.tokens = tokens or {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = {key.decode("latin-1"): value for key, value in scope["headers"]}
        if scope["path"] in self.tokens:
            authorization = headers.get("authorization", b"").decode("latin-1")
            if not bearer_matches(authorization, self.tokens[scope["path"]]):
                response = error_response(401, "missing or invalid bearer token")
                response.headers["WWW-Authenticate"] = "Bearer"
                await response(scope, receive, send)
                return
        declared = headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await self._too_large(scope, receive, send, int(declared))
            return
        await self._guarded(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, size: int) -> None:
        message = (
            f"request body of {size} bytes exceeds the limit of {self.max_body_bytes} bytes"
            if size
            else f"request body exceeds the limit of {self.max_body_bytes} bytes"
        )
        await error_response(413, message)(scope, receive, send)

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Bodies without Content-Length (chunked) are read here, up to the limit and within
        the body read timeout, and replayed to the app; a body over the limit is refused (413)
        and a body still arriving after the timeout answered 408 before the app sees any of
        it."""
        if any(key == b"content-length" for key, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            async with asyncio.timeout(self.body_timeout_s):
                too_large = await self._read_chunked(receive, messages)
        except TimeoutError:
            await body_timeout_response(self.body_timeout_s)(scope, receive, send)
            return
        if too_large:
            await self._too_large(scope, receive, send, 0)
            return
        replay = iter(messages)

        async def replaying_receive() -> Message:
            return next(replay, None) or await receive()

        await self.app(scope, replaying_receive, send)

    async def _read_chunked(self, receive: Receive, messages: list[Message]) -> bool:
        """Collect the body's messages into ``messages``; True when it passes the limit."""
        received = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return False
            received += len(message.get("body", b""))
            if received > self.max_body_bytes:
                return True
            if not message.get("more_body", False):
                return False


def model_route(info: Callable[[], Awaitable[Any]]) -> Route:
    """``GET /model``: the served champion's facts (503 before the first model is loaded)."""

    async def endpoint(_: Request) -> Response:
        try:
            return json_response(await info())
        except NoChampion as exc:
            return outcome_response(exc)

    return Route("/model", endpoint, methods=["GET"])


def model_card_route(card: Callable[[], Awaitable[dict[str, Any]]]) -> Route:
    """``GET /model/card``: the served version's model card, an HTML page, or its JSON document
    when the client asks for ``Accept: application/json`` (503 before a model is loaded)."""

    async def endpoint(request: Request) -> Response:
        try:
            document = await card()
        except NoChampion as exc:
            return outcome_response(exc)
        if "application/json" in request.headers.get("accept", ""):
            return json_response(document)
        return HTMLResponse(render_html(document))

    return Route("/model/card", endpoint, methods=["GET"])


def validation_error_response(error: ValidationError) -> Response:
    """400 in BentoML's shape: ``detail`` lists each violation's ``loc`` (``["houses", 3,
    "median_income"]``: record index and field) and ``msg`` (the reason)."""
    return json_response(
        {
            "error": f"{error.error_count()} validation error for {error.title}",
            "detail": error.errors(include_url=False, include_context=False, include_input=False),
        },
        status_code=400,
    )


@dataclass(frozen=True)
class JsonEndpoint:
    """One POST route of :class:`JsonRoutes`: ``decode`` turns the JSON body into the handler's
    argument and raises ``ValidationError`` for a bad request; ``handler`` answers it.
    ``body_optional``: the route takes no payload, so an empty request without a content type
    is the request (``POST /admin/reload`` from curl). ``on_invalid`` hears of each body
    ``decode`` refused (``/predict``: the refusal is recorded for the monitor); the answer is
    the same 400 with or without it."""

    decode: Callable[[bytes], Any]
    handler: Callable[[Any], Awaitable[Response]]
    body_optional: bool = False
    on_invalid: Callable[[bytes, ValidationError], None] | None = None


async def _read_body(receive: Receive) -> bytes | None:
    """The whole body, or None when the client disconnected first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def unsupported_media_type(content_type: bytes) -> Response:
    shown = content_type.decode("latin-1") or "none"
    return error_response(415, f"unsupported content type {shown!r}: send application/json")


class JsonRoutes:
    """ASGI middleware: the one path of every POST route of the service, whatever the body.

    A POST to a path of ``routes`` never reaches BentoML's API machinery: a JSON body is
    decoded and validated here and answered by the route's handler from the shared core; any
    other content type (multipart, form, text, none) is 415 with the service's error body.
    Before, only JSON ``/predict`` took this path and the rest went to BentoML's form parser,
    which answered multipart bodies with 500 and form-encoded JSON with a different 400 and a
    logged traceback (issue 10).

    Why not BentoML's ``@bentoml.api`` for JSON: its generic machinery (context variables, IO
    descriptors, per-call signature inspection, serde lookup) cost about 60% of a worker's
    event-loop time for a one-record prediction (profiled, docs/benchmarks.md). The
    ``@bentoml.api`` declarations in ``service.py`` remain the OpenAPI contract only.
    """

    def __init__(
        self, app: ASGIApp, *, routes: dict[str, JsonEndpoint], body_timeout_s: float
    ) -> None:
        self.app = app
        self.routes = routes
        self.body_timeout_s = body_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        endpoint = self.routes.get(scope["path"]) if scope["type"] == "http" else None
        if endpoint is None or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        content_type = b""
        for key, value in scope["headers"]:
            if key == b"content-type":
                content_type = value.split(b";", 1)[0].strip().lower()
        try:
            async with asyncio.timeout(self.body_timeout_s):
                body = await _read_body(receive)
        except TimeoutError:
            await body_timeout_response(self.body_timeout_s)(scope, receive, send)
            return
        if body is None:
            return  # the client went away
        if content_type != b"application/json" and not (
            endpoint.body_optional and not content_type and not body
        ):
            response = unsupported_media_type(content_type)
        else:
            try:
                request = endpoint.decode(body)
            except ValidationError as error:
                if endpoint.on_invalid is not None:
                    try:
                        endpoint.on_invalid(body, error)
                    except Exception:  # recording a refusal never changes its answer
                        logger.exception("could not record a refused request")
                response = validation_error_response(error)
            else:
                response = await endpoint.handler(request)
        await response(scope, receive, send)
