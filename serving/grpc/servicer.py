"""The ``housing.v1.PricePredictor`` servicer: message translation and status codes only.

Everything a prediction means (validation, batching, logging, metrics) happens in the backend,
the same code HTTP calls; this module maps its outcomes onto gRPC: bad input is
INVALID_ARGUMENT with record index, field and reason, a missing or wrong feedback token is
UNAUTHENTICATED, no loaded model is UNAVAILABLE (retryable), never UNKNOWN with a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Mapping
from http import HTTPStatus
from typing import Any, TypeVar

import grpc

from serving.grpc import convert
from serving.grpc.backend import PROTOCOL_LABEL, InvalidRequest, PredictionBackend
from serving.grpc.generated import housing_pb2 as pb
from serving.grpc.generated import housing_pb2_grpc as pb_grpc

logger = logging.getLogger(__name__)
T = TypeVar("T")

AUTHORIZATION_METADATA = "authorization"
# HTTP outcome names (and their accepted spellings) -> the proto enum.
_OUTCOMES = {
    "accepted": pb.FEEDBACK_OUTCOME_ACCEPTED,
    "duplicate": pb.FEEDBACK_OUTCOME_DUPLICATE,
    "conflict": pb.FEEDBACK_OUTCOME_CONFLICT,
    "unknown": pb.FEEDBACK_OUTCOME_UNKNOWN_ID,
    "unknown_id": pb.FEEDBACK_OUTCOME_UNKNOWN_ID,
    "implausible": pb.FEEDBACK_OUTCOME_IMPLAUSIBLE,
    "rejected": pb.FEEDBACK_OUTCOME_IMPLAUSIBLE,
}


def _metadata_value(context: grpc.aio.ServicerContext, key: str) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name.lower() == key:
            return value if isinstance(value, str) else value.decode("utf-8", "replace")
    return None


def status_of(exc: Exception) -> grpc.StatusCode:
    """The gRPC code for an error of the shared path, from its HTTP status where it has one
    (BentoML raises ServiceUnavailable when the batching queue cannot meet its latency)."""
    code = getattr(exc, "error_code", HTTPStatus.INTERNAL_SERVER_ERROR)
    if code == HTTPStatus.SERVICE_UNAVAILABLE:
        return grpc.StatusCode.UNAVAILABLE
    if code in (HTTPStatus.BAD_REQUEST, HTTPStatus.UNPROCESSABLE_ENTITY):
        return grpc.StatusCode.INVALID_ARGUMENT
    if code == HTTPStatus.UNAUTHORIZED:
        return grpc.StatusCode.UNAUTHENTICATED
    if code == HTTPStatus.REQUEST_ENTITY_TOO_LARGE:
        return grpc.StatusCode.RESOURCE_EXHAUSTED
    return grpc.StatusCode.INTERNAL


async def answer(call: Awaitable[T], context: grpc.aio.ServicerContext) -> T:
    """Await the shared path, turning its errors into a status with a one-line message."""
    try:
        return await call
    except grpc.aio.AbortError:
        raise
    except InvalidRequest as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except Exception as exc:
        code = status_of(exc)
        if code == grpc.StatusCode.INTERNAL:
            logger.exception("gRPC call failed in the shared prediction path")
            await context.abort(code, f"internal error ({type(exc).__name__}); see the server log")
        await context.abort(code, str(exc))
    raise AssertionError("unreachable: context.abort raises")


def feedback_outcome(name: str) -> pb.FeedbackOutcome:
    try:
        return _OUTCOMES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown feedback outcome {name!r} from the HTTP path") from None


class PricePredictorServicer(pb_grpc.PricePredictorServicer):
    """Answers the three RPCs by calling the shared prediction path."""

    def __init__(self, backend: PredictionBackend) -> None:
        self._backend = backend
        self._nullable = frozenset(name for name, spec in backend.features.items() if spec.nullable)

    async def _refuse_unready(self, context: grpc.aio.ServicerContext) -> None:
        if not self._backend.model_ready():
            await context.abort(grpc.StatusCode.UNAVAILABLE, "no champion model is loaded yet")

    async def Predict(  # noqa: N802 - gRPC method names are the proto's
        self, request: pb.PredictRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictResponse:
        await self._refuse_unready(context)
        records = convert.house_records(request.houses, self._backend.features)
        results = await answer(self._backend.predict(records, PROTOCOL_LABEL), context)
        return pb.PredictResponse(results=[convert.price_estimate(r) for r in results])

    async def SubmitFeedback(  # noqa: N802
        self, request: pb.FeedbackRequest, context: grpc.aio.ServicerContext
    ) -> pb.FeedbackResponse:
        authorization = _metadata_value(context, AUTHORIZATION_METADATA)
        if not self._backend.feedback_authorized(authorization):
            await context.abort(
                grpc.StatusCode.UNAUTHENTICATED,
                "feedback needs call metadata 'authorization: Bearer <token>' "
                "with the service's feedback token",
            )
        items = convert.feedback_items(request.items)
        outcomes = await answer(self._backend.submit_feedback(items, PROTOCOL_LABEL), context)
        return pb.FeedbackResponse(results=[self._feedback_result(o) for o in outcomes])

    @staticmethod
    def _feedback_result(outcome: Mapping[str, Any]) -> pb.FeedbackResult:
        name = str(outcome["outcome"])
        detail = str(outcome.get("detail") or outcome.get("reason") or "")
        return pb.FeedbackResult(
            prediction_id=str(outcome["prediction_id"]),
            outcome=feedback_outcome(name),
            detail=f"{name}: {detail}" if detail else name,
        )

    async def GetModel(  # noqa: N802
        self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInfo:
        await self._refuse_unready(context)
        info = dict(await answer(self._backend.model_info(), context))
        metrics = info.get("holdout_metrics") or info.get("metrics") or {}
        message = pb.ModelInfo(
            model_version=str(info.get("model_version") or info.get("version") or ""),
            bento_tag=str(info.get("bento_tag") or ""),
            mlflow_run_id=str(info.get("mlflow_run_id") or info.get("run_id") or ""),
            holdout_metrics={
                str(k): float(v) for k, v in metrics.items() if isinstance(v, int | float)
            },
            features=[
                convert.feature_schema(name, spec) for name, spec in self._backend.features.items()
            ],
            details_json=json.dumps(info, default=str, sort_keys=True),
        )
        trained_at = convert.timestamp(info.get("trained_at"))
        if trained_at is not None:
            message.trained_at.CopyFrom(trained_at)
        return message
