"""The Bento service: HTTP routes wired to the shared serving core (``serving/``).

Run it with ``housing serve`` (trains first if there is no champion), or directly with
``bentoml serve service:HousingPriceService`` from the project root. The configuration comes
from ``$HOUSING_CONFIG`` or ./configuration.yaml, loaded before BentoML is imported.

Routes: ``POST /predict`` (``{"houses": [...]}``), ``POST /feedback`` (``{"items": [...]}``,
bearer token), ``GET /model``, ``GET /model/card`` (HTML; JSON with ``Accept:
application/json``), plus BentoML's ``/livez``, ``/readyz`` (ready once a champion is loaded),
``/metrics`` and ``/docs``. Logic lives in :class:`serving.core.ServingCore`; this file
only translates outcomes to HTTP. A second protocol (gRPC) starts in :meth:`start_protocols` and
calls the same core (``self.core``).
"""

import asyncio
import os
import sys
from pathlib import Path
from typing import Annotated

from housing import exit_codes
from housing.config import load_config
from housing.runtime import prepare_process, served_from_bento

SETTINGS = load_config()
prepare_process(
    SETTINGS,
    numeric_threads=SETTINGS.service.numeric_threads,
    keep_bentoml_home=served_from_bento(Path(__file__)),
)

import bentoml  # noqa: E402  (BENTOML_HOME must be set first)
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, create_model  # noqa: E402
from sqlalchemy.exc import SQLAlchemyError  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.responses import Response  # noqa: E402

from housing.store.prediction_log import PredictionLogUnavailable  # noqa: E402
from serving import connections  # noqa: E402
from serving.auth import ADMIN_TOKEN_ENV, admin_token, feedback_token  # noqa: E402
from serving.core import ServingCore  # noqa: E402
from serving.errors import Unavailable  # noqa: E402
from serving.grpc.server import GrpcServer  # noqa: E402
from serving.http import (  # noqa: E402
    JsonEndpoint,
    JsonRoutes,
    RequestContext,
    RequestGuard,
    error_response,
    json_response,
    model_card_route,
    model_route,
    outcome_response,
)
from serving.openapi import RouteContract, ServiceDocument, complete_document  # noqa: E402
from serving.preflight import startup_problems  # noqa: E402
from serving.runtime import limit_numeric_threads, service_options  # noqa: E402
from serving.schema import (  # noqa: E402
    FeedbackItem,
    FeedbackResult,
    ModelInfo,
    PricePrediction,
    RecordsCheck,
    ReloadResult,
    house_record_model,
    records_in_body,
)

ADMIN_RELOAD_ROUTE = "/admin/reload"
# Header read timeout and drain time of this worker's HTTP server (serving/connections.py).
connections.install(
    header_timeout_s=SETTINGS.service.header_read_timeout_s,
    drain_timeout_s=SETTINGS.service.drain_timeout_s,
)
HouseRecord = house_record_model(SETTINGS)
Houses = Annotated[
    list[HouseRecord],  # type: ignore[valid-type]
    Field(min_length=1, max_length=SETTINGS.service.max_records_per_request),
]
PredictRequest = create_model(
    "PredictRequest", __config__=ConfigDict(extra="forbid"), houses=(Houses, ...)
)
FeedbackItems = Annotated[
    list[FeedbackItem],
    Field(min_length=1, max_length=SETTINGS.service.feedback.max_items_per_request),
]
FeedbackRequest = create_model(
    "FeedbackRequest", __config__=ConfigDict(extra="forbid"), items=(FeedbackItems, ...)
)
ReloadRequest = create_model("ReloadRequest", __config__=ConfigDict(extra="forbid"))
_FEEDBACK_REQUEST = TypeAdapter(FeedbackRequest)
_RELOAD_REQUEST = TypeAdapter(ReloadRequest)


def _current() -> "HousingPriceService":
    return bentoml.get_current_service()  # type: ignore[return-value]


async def _predict_json(houses: list[dict]) -> Response:
    return await _current().answer_predict(houses)


async def _feedback_json(items: list[FeedbackItem]) -> Response:
    return await _current().answer_feedback(items)


async def _reload_json(_: None) -> Response:
    return await _current().answer_reload()


def _predict_refused(body: bytes, error: ValidationError) -> None:
    """A /predict body refused with 400: recorded for the monitor (housing/store/refusals.py)."""
    errors = error.errors(include_url=False, include_input=False, include_context=False)
    _current().core.prediction.refused(errors, records_in_body(body), "http")


def _feedback_items(body: bytes) -> list[FeedbackItem]:
    return _FEEDBACK_REQUEST.validate_json(body).items  # type: ignore[attr-defined]


def _reload_body(body: bytes) -> None:
    if body:
        _RELOAD_REQUEST.validate_json(body)


async def _model_info() -> dict:
    return dict(await bentoml.get_current_service().core.model_info())


async def _model_card() -> dict:
    return await bentoml.get_current_service().core.model_card()


# Mounted at the root: BentoML only routes paths the small app knows (GET /model,
# GET /model/card) to it.
@bentoml.asgi_app(
    Starlette(routes=[model_route(_model_info), model_card_route(_model_card)]), path="/"
)
@bentoml.service(**service_options(SETTINGS))
class HousingPriceService:
    """Housing prices with conformal intervals; every answer is logged for monitoring."""

    @bentoml.on_deployment
    def check_startup() -> None:
        """Once, before any worker starts (``bentoml serve`` run directly): one line and a
        non-zero exit for a port in use or an unusable state folder, not a crash loop."""
        problems = startup_problems(SETTINGS, http_port=False)  # --port may differ: BentoML's
        if problems:
            print("error: cannot serve: " + "; ".join(problems), file=sys.stderr, flush=True)
            os._exit(exit_codes.FAILURE)  # before BentoML's arbiter forks workers to restart

    def __init__(self) -> None:
        limit_numeric_threads(SETTINGS.service.numeric_threads)
        self.core = ServingCore(SETTINGS).start()

    @bentoml.on_startup
    async def start_protocols(self) -> None:
        """Start other protocols in this worker's event loop (gRPC: serving/grpc)."""
        self.grpc = GrpcServer(SETTINGS, self.core)  # gRPC (docs/grpc.md): same core, port 3001
        await self.grpc.start()

    @bentoml.on_shutdown
    async def stop(self) -> None:
        """SIGTERM: stop other protocols first, then drain batches and the prediction log."""
        if getattr(self, "grpc", None) is not None:  # gRPC: NOT_SERVING, finish in-flight calls
            await self.grpc.stop()
        self.core.stop()

    def __is_ready__(self) -> bool:
        return self.core.model_ready()

    # The @bentoml.api methods declare the routes for the OpenAPI document and BentoML clients;
    # every POST to them is answered by serving.http.JsonRoutes (below) with the answer_* methods.
    @bentoml.api(route="/predict")
    async def predict(self, houses: Houses) -> list[PricePrediction]:
        """Price houses: one answer per record, in order, with interval and model version."""
        records = [house.model_dump() for house in houses]
        return await self.answer_predict(records)  # type: ignore[return-value]

    @bentoml.api(route="/feedback")
    async def feedback(self, items: FeedbackItems) -> list[FeedbackResult]:
        """Record the true prices of earlier predictions (needs ``Authorization: Bearer``)."""
        return await self.answer_feedback(items)  # type: ignore[return-value]

    @bentoml.api(route=ADMIN_RELOAD_ROUTE)
    async def reload_champion(self) -> dict:
        """Check the registry now instead of at the next poll (``Authorization: Bearer
        $HOUSING_ADMIN_TOKEN``). Only the worker that answers reloads at once; the others
        follow within ``service.model_poll_interval_s``."""
        return await self.answer_reload()  # type: ignore[return-value]

    async def answer_predict(self, houses: list[dict]) -> Response:
        try:
            answers = await self.core.prediction.predict_records(houses, "http")
        except (Unavailable, PredictionLogUnavailable) as exc:
            return outcome_response(exc)
        return json_response(answers)

    async def answer_feedback(self, items: list[FeedbackItem]) -> Response:
        desk = self.core.feedback
        if not desk.enabled:
            return error_response(404, "feedback is disabled (service.feedback.enabled)")
        try:
            results = await desk.submit(items, "http")
        except SQLAlchemyError as exc:
            return outcome_response(exc)
        return json_response(results)

    async def answer_reload(self) -> Response:
        if admin_token() is None:
            return error_response(404, f"admin routes are disabled (set ${ADMIN_TOKEN_ENV})")
        try:
            swapped = await asyncio.to_thread(self.core.holder.refresh)
            version = str(self.core.holder.current.version)
        except Exception as exc:  # registry or model store unreachable: keep serving
            return error_response(503, f"reload failed, still serving the current model: {exc}")
        return json_response({"model_version": version, "swapped": swapped})


if SETTINGS.service.cors.enabled:
    # Outermost, so it covers every route: BentoML's own CORS middleware sits inside the
    # project's middlewares and never sees the POST routes that JsonRoutes answers.
    cors = SETTINGS.service.cors
    HousingPriceService.add_asgi_middleware(
        CORSMiddleware,
        allow_origins=cors.allow_origins,
        allow_methods=cors.allow_methods,
        allow_headers=cors.allow_headers,
        max_age=cors.max_age_s,
    )
# BentoML's request context and API headers on the POST routes our middlewares answer.
HousingPriceService.add_asgi_middleware(
    RequestContext,
    context=HousingPriceService.context,
    service_name=HousingPriceService.name,
    paths={"/predict", "/feedback", ADMIN_RELOAD_ROUTE},
)
HousingPriceService.add_asgi_middleware(
    RequestGuard,
    max_body_bytes=SETTINGS.service.max_body_bytes,
    body_timeout_s=SETTINGS.service.body_read_timeout_s,
    tokens={"/feedback": feedback_token(SETTINGS), ADMIN_RELOAD_ROUTE: admin_token()},
)
# What each route takes and answers, for the served document (serving/openapi.py). 408: slow
# headers (any route, serving/connections.py) or a slow body (POST routes, serving/http.py).
ROUTE_CONTRACTS = {
    "/predict": RouteContract("post", PredictRequest, statuses=(400, 408, 413, 415, 503)),
    "/feedback": RouteContract(
        "post", FeedbackRequest, statuses=(400, 401, 404, 408, 413, 415, 503), protected=True
    ),
    ADMIN_RELOAD_ROUTE: RouteContract(
        "post",
        ReloadRequest,
        ok=ReloadResult.model_json_schema(),
        statuses=(400, 401, 404, 408, 413, 415, 503),
        protected=True,
    ),
    "/model": RouteContract(
        "get",
        ok=ModelInfo.model_json_schema(),
        statuses=(408, 503),
        summary="The served champion: version, Bento tag, MLflow run, metrics, feature schema.",
    ),
    "/model/card": RouteContract(
        "get",
        ok={"type": "object", "description": "the model card (with Accept: application/json)"},
        statuses=(408, 503),
        summary="The served version's model card: an HTML page, or its JSON document when the "
        "request sends Accept: application/json.",
    ),
}


def _document() -> dict:
    document = complete_document(HousingPriceService.openapi_spec.asdict(), ROUTE_CONTRACTS)
    card = document["paths"]["/model/card"]["get"]["responses"]["200"]["content"]
    card["text/html"] = {"schema": {"type": "string"}}  # the default answer: the page itself
    return document


HousingPriceService.add_asgi_middleware(ServiceDocument, build=_document)
# Innermost of the two: every POST route is answered right after the size and token checks.
HousingPriceService.add_asgi_middleware(
    JsonRoutes,
    routes={
        "/predict": JsonEndpoint(
            RecordsCheck(SETTINGS, PredictRequest, key="houses").json_body,
            _predict_json,
            on_invalid=_predict_refused,
        ),
        "/feedback": JsonEndpoint(_feedback_items, _feedback_json),
        ADMIN_RELOAD_ROUTE: JsonEndpoint(_reload_body, _reload_json, body_optional=True),
    },
    body_timeout_s=SETTINGS.service.body_read_timeout_s,
)
