"""Connection-level limits of the HTTP server: a header read timeout and a drain time.

Both act below ASGI, where no middleware can reach: uvicorn parses the request line and headers
before the application sees anything, and a connection that never finishes its headers has no
timer at all in uvicorn 0.54 (its keep-alive timer only runs between requests, and is cancelled
by the first byte of the next one). On SIGTERM uvicorn waits for every open request without a
limit unless ``timeout_graceful_shutdown`` is set.

BentoML 1.4 builds uvicorn's ``Config`` inside each worker and takes neither option from the
service configuration: ``--timeout-graceful-shutdown`` exists only as a flag of ``bentoml serve``
(integer seconds), and there is no header timeout at all. The one extension point left is
uvicorn's own: the HTTP protocol class, which uvicorn looks up by name (``"auto"``) when the
worker's server starts. :func:`install` registers :class:`LimitedHttpProtocol` under that name
from ``service.py``, which every worker imports before its server starts; BentoML, uvicorn and
httptools do all the rest unchanged.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class LimitedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus a header read timeout and a drain time.

    Header timeout: a request's headers are pending from the connection (first request) or from
    the first byte of the request (later ones) until they are complete; a client still sending
    them ``header_timeout_s`` later gets 408 and the connection is closed. One timer per
    connection, re-armed when it fires, checks this; a request only stores a timestamp and a
    flag (a timer per request cost about 6 us with uvloop on the busy 2-core machine).
    Drain: uvicorn's graceful-shutdown limit, unless ``bentoml serve --timeout-graceful-shutdown``
    set one: after SIGTERM, requests still open after the drain time are cancelled and the
    worker shuts down (the prediction log is still flushed).
    """

    header_timeout_s: ClassVar[float] = 10.0
    drain_timeout_s: ClassVar[float] = 15.0

    def __init__(self, config: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(config, *args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._headers_pending = True
        self._headers_since = 0.0
        if config.timeout_graceful_shutdown is None:  # the same Config object uvicorn's server
            config.timeout_graceful_shutdown = self.drain_timeout_s  # reads on SIGTERM

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._headers_since = self.loop.time()
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._check_headers)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._headers_pending = True
        self._headers_since = self.loop.time()

    def on_headers_complete(self) -> None:
        self._headers_pending = False
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        super().connection_lost(exc)

    def _check_headers(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        waited = self.loop.time() - self._headers_since
        if self._headers_pending and waited >= self.header_timeout_s:
            self._refuse_slow_headers()
            return
        wait = self.header_timeout_s - waited if self._headers_pending else self.header_timeout_s
        self._header_timer = self.loop.call_later(wait, self._check_headers)

    def _refuse_slow_headers(self) -> None:
        body = (
            b'{"error":"request headers not received within '
            + f"{self.header_timeout_s:g}".encode()
            + b' s"}'
        )
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\nconnection: close\r\n\r\n" + body
        )
        self.transport.close()


def install(*, header_timeout_s: float, drain_timeout_s: float) -> None:
    """Make uvicorn's default HTTP protocol (``"auto"``) the limited one, in this process."""
    from uvicorn.config import HTTP_PROTOCOLS

    configured = type(
        "LimitedHttpProtocol",
        (LimitedHttpProtocol,),
        {"header_timeout_s": header_timeout_s, "drain_timeout_s": drain_timeout_s},
    )
    HTTP_PROTOCOLS["auto"] = configured  # type: ignore[assignment]
