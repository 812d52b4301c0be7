"""The same proto serves another configured profile: Boston records through the generic map,
judged by the same validator as Boston's HTTP API (int features included)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from housing.config import Settings
from serving.grpc.convert import house_message
from serving.grpc.generated import housing_pb2 as pb
from tests.fixtures.grpc import CALL_TIMEOUT_S, GrpcClient, grpc_client, private_bentoml_home
from tests.fixtures.serving import RunningService, example_records, running_service
from tests.fixtures.training import BOSTON_CONFIG, make_settings

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


@pytest.fixture(scope="module")
def boston_service(
    tmp_path_factory: pytest.TempPathFactory, bentoml_home: Path
) -> Iterator[tuple[RunningService, GrpcClient, Settings]]:
    from housing.runtime import prepare_process
    from training.train import run_training

    state = tmp_path_factory.mktemp("boston")
    settings = make_settings(state, config=BOSTON_CONFIG, bentoml_home=bentoml_home)
    prepare_process(settings)
    assert run_training(settings, reason="gRPC profile test").decision.promote
    home = private_bentoml_home(settings, state)
    with (
        running_service(
            settings, log_dir=state, env={"BENTOML_HOME": str(home)}, bentoml__home=home
        ) as service,
        grpc_client(service.grpc_port) as client,
    ):
        yield service, client, settings


def test_boston_records_price_over_the_generic_map_like_http(boston_service) -> None:
    service, client, settings = boston_service
    records = example_records(settings, count=5)
    request = pb.PredictRequest(houses=[house_message(r) for r in records])
    assert all(h.WhichOneof("record") == "features" for h in request.houses)
    over_grpc = client.predictor.Predict(request, timeout=CALL_TIMEOUT_S).results
    over_http = service.predict(records)
    assert [a.price for a in over_grpc] == pytest.approx([a["price"] for a in over_http])


def test_int_feature_with_a_fraction_is_refused_as_over_http(boston_service) -> None:
    service, client, settings = boston_service
    record = example_records(settings, count=1)[0] | {"CHAS": 0.5}
    with pytest.raises(grpc.RpcError) as caught:
        client.predictor.Predict(
            pb.PredictRequest(houses=[house_message(record)]), timeout=CALL_TIMEOUT_S
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    http = service.client.post("/predict", json={"houses": [record]})
    assert http.status_code == 400
    [detail] = http.json()["detail"]
    assert f"record 0: field 'CHAS': {detail['msg']}" in caught.value.details()


def test_a_california_record_is_refused_by_a_boston_service(boston_service) -> None:
    _, client, _ = boston_service
    house = pb.House(california=pb.CaliforniaHouse(longitude=-122.2, median_income=8.3))
    with pytest.raises(grpc.RpcError) as caught:
        client.predictor.Predict(pb.PredictRequest(houses=[house]), timeout=CALL_TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    details = caught.value.details()
    assert "record 0: field 'longitude': Extra inputs are not permitted" in details
    assert "record 0: field 'CRIM': Field required" in details


def test_get_model_describes_the_boston_schema(boston_service) -> None:
    _, client, settings = boston_service
    model = client.predictor.GetModel(pb.GetModelRequest(), timeout=CALL_TIMEOUT_S)
    types = {f.name: f.type for f in model.features}
    assert list(types) == settings.feature_names
    assert types["CHAS"] == "int"
