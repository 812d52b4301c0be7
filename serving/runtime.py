"""How the Bento service is configured from ``settings.service``: BentoML options and threads.

Measured on 2 cores (docs/benchmarks.md): BentoML's access log and per-request OpenTelemetry
spans cost a large share of a small request, so the access log follows ``service.access_log``
and tracing skips the prediction and feedback routes. Numeric libraries get
``numeric_threads`` threads per worker, so workers x threads never oversubscribe the cores.
"""

from __future__ import annotations

from typing import Any

from housing.config import Settings

# Routes answered many times a second; spans there would cost more than the work itself.
HOT_ROUTES = ("/predict", "/feedback")


def service_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments of ``@bentoml.service`` for this configuration."""
    service = settings.service
    return {
        "name": settings.bentoml.bento_name,
        "workers": service.workers,
        "traffic": {"timeout": service.request_timeout_s},
        "http": {"host": service.host, "port": service.port},
        "logging": {"access": {"enabled": service.access_log}},
        "tracing": {"excluded_urls": list(HOT_ROUTES)},
    }


def limit_numeric_threads(threads: int) -> None:
    """Cap OpenMP/BLAS pools already loaded in this process (env vars only affect new ones)."""
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=threads)
