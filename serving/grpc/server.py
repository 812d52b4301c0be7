"""The gRPC server that runs inside each Bento service worker, beside BentoML's HTTP server.

Started from the service's ``@bentoml.on_startup`` hook, it lives on the worker's own event
loop, so a gRPC handler awaits the very same prediction path HTTP requests go through
(``serving/prediction.py``) and its adaptive batcher merges both protocols into the same
batches. gRPC sets SO_REUSEPORT, so every worker binds the configured port and the kernel
spreads connections across them, like BentoML does for HTTP.
"""

from __future__ import annotations

import asyncio
import logging

import grpc
from google.protobuf.message import DecodeError
from grpc_health.v1 import health as grpc_health
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from housing.config import Settings
from serving.grpc.backend import PredictionBackend
from serving.grpc.generated import housing_pb2 as pb
from serving.grpc.generated import housing_pb2_grpc as pb_grpc
from serving.grpc.metrics import MetricsInterceptor
from serving.grpc.servicer import PricePredictorServicer

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["PricePredictor"].full_name
HEALTH_SERVICE_NAME = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
# Health is reported for the whole server ("") and for the prediction service by name.
_HEALTH_SUBJECTS = ("", SERVICE_NAME)


class ModelHealthServicer(grpc_health.aio.HealthServicer):
    """Standard grpc.health.v1: SERVING exactly while the backend has a model loaded.

    The status is read from the backend on every Check (cheap), so a Check never lags behind a
    model load; Watch streams are updated by :meth:`follow`, as often as the service looks for a
    new champion (``service.model_poll_interval_s``).
    """

    def __init__(self, backend: PredictionBackend) -> None:
        super().__init__()
        self._backend = backend

    async def refresh(self) -> None:
        status = (
            health_pb2.HealthCheckResponse.SERVING
            if self._backend.model_ready()
            else health_pb2.HealthCheckResponse.NOT_SERVING
        )
        for subject in _HEALTH_SUBJECTS:
            await self.set(subject, status)

    async def follow(self, interval_s: float) -> None:
        """Keep the status (and so every Watch stream) current until cancelled."""
        while True:
            await self.refresh()
            await asyncio.sleep(interval_s)

    async def Check(self, request, context):  # noqa: N802 - the proto's method name
        await self.refresh()
        return await super().Check(request, context)


class Undecodable:
    """What the request deserializer returns for bytes that are not the method's message."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


class UndecodableRequests(grpc.aio.ServerInterceptor):
    """Bytes that do not decode as the method's request message answer INVALID_ARGUMENT.

    gRPC deserializes before any handler runs, and a ``DecodeError`` there used to reach the
    client as UNKNOWN naming Python's exception. The deserializer of every unary method is
    wrapped to hand such bytes to the handler as :class:`Undecodable`, refused here."""

    async def intercept_service(self, continuation, handler_call_details):
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None or handler.request_deserializer is None:
            return handler
        decode, inner = handler.request_deserializer, handler.unary_unary
        method = handler_call_details.method

        def tolerant_decode(data: bytes) -> object:
            try:
                return decode(data)
            except DecodeError as exc:
                return Undecodable(str(exc))

        async def refuse_undecodable(request, context):
            if isinstance(request, Undecodable):
                await context.abort(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"the request is not a valid message for {method}: {request.reason}",
                )
            return await inner(request, context)

        return handler._replace(
            request_deserializer=tolerant_decode, unary_unary=refuse_undecodable
        )


class GrpcServer:
    """One worker's gRPC server: PricePredictor, health and reflection on the configured port."""

    def __init__(self, settings: Settings, backend: PredictionBackend) -> None:
        self._settings = settings
        self._backend = backend
        self._server: grpc.aio.Server | None = None
        self._health: ModelHealthServicer | None = None
        self._health_follower: asyncio.Task[None] | None = None
        self.port: int | None = None

    @property
    def address(self) -> str:
        service = self._settings.service
        return f"{service.host}:{service.grpc_port}"

    async def start(self) -> int:
        """Bind and start serving; returns the bound port. Raises RuntimeError if it cannot bind."""
        service = self._settings.service
        # The same body limit as HTTP: larger messages are refused with RESOURCE_EXHAUSTED.
        options = [
            ("grpc.so_reuseport", 1),
            ("grpc.max_receive_message_length", service.max_body_bytes),
        ]
        server = grpc.aio.server(
            interceptors=[MetricsInterceptor(), UndecodableRequests()], options=options
        )
        servicer = PricePredictorServicer(self._backend, feedback_enabled=service.feedback.enabled)
        pb_grpc.add_PricePredictorServicer_to_server(servicer, server)
        health = ModelHealthServicer(self._backend)
        health_pb2_grpc.add_HealthServicer_to_server(health, server)
        reflection.enable_server_reflection(
            (SERVICE_NAME, HEALTH_SERVICE_NAME, reflection.SERVICE_NAME), server
        )
        port = server.add_insecure_port(self.address)
        if port == 0:
            raise RuntimeError(f"gRPC could not bind {self.address}")
        await server.start()
        await health.refresh()
        self._health_follower = asyncio.create_task(
            health.follow(service.model_poll_interval_s), name="grpc-health"
        )
        self._server, self._health, self.port = server, health, port
        logger.info("gRPC %s listening on %s:%d", SERVICE_NAME, service.host, port)
        return port

    async def stop(self) -> None:
        """Report NOT_SERVING, then let in-flight calls finish within the drain time."""
        if self._server is None:
            return
        if self._health_follower is not None:
            self._health_follower.cancel()
        if self._health is not None:
            await self._health.enter_graceful_shutdown()
        await self._server.stop(self._settings.service.drain_timeout_s)
        self._server = None
        logger.info("gRPC server on %s stopped", self.address)
