"""gRPC health follows the model: NOT_SERVING (and UNAVAILABLE predictions) until a champion
exists, SERVING as soon as the running service has loaded one, with no restart."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2

from housing.config import Settings
from serving.grpc.convert import house_message
from serving.grpc.generated import housing_pb2 as pb
from tests.fixtures.grpc import CALL_TIMEOUT_S, SERVICE_NAME, service_without_champion
from tests.fixtures.serving import example_records

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

WATCH_TIMEOUT_S = 300.0


def test_health_is_not_serving_without_a_champion_then_serving_once_one_is_promoted(
    training_settings: Settings, tmp_path: Path
) -> None:
    from training.train import run_training

    records = example_records(training_settings, count=2)
    request = pb.PredictRequest(houses=[house_message(r) for r in records])
    with service_without_champion(
        training_settings, tmp_path, service__model_poll_interval_s=0.5
    ) as client:
        assert client.health_status() == "NOT_SERVING"
        assert client.health_status("") == "NOT_SERVING"
        with pytest.raises(grpc.RpcError) as caught:
            client.predictor.Predict(request, timeout=CALL_TIMEOUT_S)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        assert "no champion" in caught.value.details()
        with pytest.raises(grpc.RpcError) as caught:
            client.predictor.GetModel(pb.GetModelRequest(), timeout=CALL_TIMEOUT_S)
        assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
        # Bad input is still judged first, as over HTTP.
        with pytest.raises(grpc.RpcError) as caught:
            client.predictor.Predict(pb.PredictRequest(), timeout=CALL_TIMEOUT_S)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        watch = client.health.Watch(
            health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=WATCH_TIMEOUT_S
        )
        assert next(watch).status == health_pb2.HealthCheckResponse.NOT_SERVING
        assert run_training(training_settings, reason="gRPC health test").decision.promote
        assert next(watch).status == health_pb2.HealthCheckResponse.SERVING
        watch.cancel()

        answers = client.predictor.Predict(request, timeout=CALL_TIMEOUT_S).results
        assert [a.model_version for a in answers] == ["1", "1"]
