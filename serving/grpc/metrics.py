"""Per-RPC metrics of the gRPC server, the counterpart of BentoML's HTTP request metrics.

BentoML only measures its own HTTP routes, so calls to port 3001 would be invisible at the
request level (predictions themselves are counted by the shared path, with protocol="grpc").
An interceptor counts every call by method and status code and times it, in the same
multi-process Prometheus registry as the service's other metrics (created inside the worker).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import grpc

PREFIX = "housing_grpc"
# Latency buckets in seconds: from a cached health check to a slow 1000-record request.
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@functools.cache
def _metrics() -> tuple[Any, Any]:
    """Created once per process, on first use inside the worker (Prometheus refuses twins)."""
    from prometheus_client import Counter, Histogram

    calls = Counter(
        f"{PREFIX}_requests", "gRPC calls by method and status code", ["method", "code"]
    )
    latency = Histogram(
        f"{PREFIX}_request_duration_seconds",
        "gRPC call latency by method",
        ["method"],
        buckets=_LATENCY_BUCKETS,
    )
    return calls, latency


def _code_name(context: grpc.aio.ServicerContext, failed: bool) -> str:
    code = context.code()
    if isinstance(code, grpc.StatusCode):
        return code.name
    return "UNKNOWN" if failed else "OK"


class MetricsInterceptor(grpc.aio.ServerInterceptor):
    """Counts and times unary calls: this API's three and health checks (not reflection)."""

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None or handler.unary_unary is None:
            return handler
        method = handler_call_details.method.rsplit("/", 1)[-1]
        behavior = handler.unary_unary
        calls, latency = _metrics()

        async def measured(request: Any, context: grpc.aio.ServicerContext) -> Any:
            started = time.perf_counter()
            failed = True
            try:
                response = await behavior(request, context)
                failed = False
                return response
            finally:
                latency.labels(method=method).observe(time.perf_counter() - started)
                calls.labels(method=method, code=_code_name(context, failed)).inc()

        return grpc.unary_unary_rpc_method_handler(
            measured,
            request_deserializer=handler.request_deserializer,
            response_serializer=handler.response_serializer,
        )
