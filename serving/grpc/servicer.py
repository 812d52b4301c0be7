"""The ``housing.v1.PricePredictor`` servicer: message translation and status codes only.

Everything a prediction means (validation, batching, logging, metrics) happens in the backend,
the same code HTTP calls; this module maps its outcomes onto gRPC: bad input is
INVALID_ARGUMENT with record index, field and reason, a missing or wrong feedback token is
UNAUTHENTICATED, no loaded model or a full batching queue is UNAVAILABLE (retryable), never
UNKNOWN with a traceback.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Mapping
from typing import Any, TypeVar

import grpc
from sqlalchemy.exc import SQLAlchemyError

from housing.store.prediction_log import PredictionLogUnavailable
from serving.batching import Overloaded
from serving.champion import NoChampion
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


def status_of(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """The gRPC status for an error of the shared path: what HTTP answers 503 is UNAVAILABLE
    (retryable), everything unexpected is INTERNAL with a one-line message."""
    if isinstance(exc, NoChampion | Overloaded | PredictionLogUnavailable):
        return grpc.StatusCode.UNAVAILABLE, str(exc)
    if isinstance(exc, SQLAlchemyError):
        return grpc.StatusCode.UNAVAILABLE, "the store is unavailable; nothing was stored"
    return grpc.StatusCode.INTERNAL, f"internal error ({type(exc).__name__}); see the server log"


async def answer(call: Awaitable[T], context: grpc.aio.ServicerContext) -> T:
    """Await the shared path, turning its errors into a status with a one-line message."""
    try:
        return await call
    except grpc.aio.AbortError:
        raise
    except InvalidRequest as exc:
        await context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
    except Exception as exc:
        code, message = status_of(exc)
        if code == grpc.StatusCode.INTERNAL:
            logger.exception("gRPC call failed in the shared prediction path")
        await context.abort(code, message)
    raise AssertionError("unreachable: context.abort raises")


def feedback_outcome(name: str) -> pb.FeedbackOutcome:
    try:
        return _OUTCOMES[name.lower()]
    except KeyError:
        raise ValueError(f"unknown feedback outcome {name!r} from the HTTP path") from None


class PricePredictorServicer(pb_grpc.PricePredictorServicer):
    """Answers the three RPCs by calling the shared prediction path."""

    def __init__(self, backend: PredictionBackend, *, feedback_enabled: bool) -> None:
        self._backend = backend
        self._feedback_enabled = feedback_enabled

    async def Predict(  # noqa: N802 - gRPC method names are the proto's
        self, request: pb.PredictRequest, context: grpc.aio.ServicerContext
    ) -> pb.PredictResponse:
        records = convert.house_records(request.houses, self._backend.features)
        results = await answer(self._backend.predict(records, PROTOCOL_LABEL), context)
        return pb.PredictResponse(results=[convert.price_estimate(r) for r in results])

    async def SubmitFeedback(  # noqa: N802
        self, request: pb.FeedbackRequest, context: grpc.aio.ServicerContext
    ) -> pb.FeedbackResponse:
        if not self._feedback_enabled:
            await context.abort(
                grpc.StatusCode.UNIMPLEMENTED, "feedback is disabled (service.feedback.enabled)"
            )
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
        detail = str(outcome.get("detail") or "")
        return pb.FeedbackResult(
            prediction_id=str(outcome["prediction_id"]),
            outcome=feedback_outcome(name),
            detail=f"{name}: {detail}" if detail else name,
        )

    async def GetModel(  # noqa: N802
        self, request: pb.GetModelRequest, context: grpc.aio.ServicerContext
    ) -> pb.ModelInfo:
        info = dict(await answer(self._backend.model_info(), context))
        metrics = info.get("holdout_metrics") or {}
        message = pb.ModelInfo(
            model_version=str(info.get("model_version") or ""),
            bento_tag=str(info.get("bento_tag") or ""),
            mlflow_run_id=str(info.get("mlflow_run_id") or ""),
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
