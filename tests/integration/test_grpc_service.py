"""The gRPC API of a real ``bentoml serve`` (2 workers), through the committed stubs: the same
predictions, validation, feedback, model document, log and batching as HTTP."""

from __future__ import annotations

import asyncio
import json
import math
import uuid
from typing import Any

import grpc
import httpx
import psutil
import pytest
from google.protobuf.struct_pb2 import NULL_VALUE
from grpc_reflection.v1alpha.proto_reflection_descriptor_database import (
    ProtoReflectionDescriptorDatabase,
)

from housing.config import Settings
from serving.grpc.convert import house_message
from serving.grpc.generated import housing_pb2 as pb
from serving.grpc.generated import housing_pb2_grpc as pb_grpc
from tests.fixtures.grpc import (
    CALL_TIMEOUT_S,
    SERVICE_NAME,
    GrpcClient,
)
from tests.fixtures.serving import RunningService
from tests.integration.test_service_http import california_records, logged_rows

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def log_url(served_champion: RunningService) -> str:
    return f"sqlite:///{served_champion.log_path.parent / 'predictions.db'}"


def predict(client: GrpcClient, records: list[dict[str, Any]], typed: bool = True):
    request = pb.PredictRequest(houses=[house_message(r, typed=typed) for r in records])
    return client.predictor.Predict(request, timeout=CALL_TIMEOUT_S).results


def refusal(client: GrpcClient, houses: list[pb.House]) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        client.predictor.Predict(pb.PredictRequest(houses=houses), timeout=CALL_TIMEOUT_S)
    return caught.value


# ----------------------------------------------------------------------------- predict


def test_predict_one_house_gives_a_price_inside_its_interval_and_logs_it_as_grpc(
    grpc_champion: GrpcClient, log_url: str
) -> None:
    [answer] = predict(grpc_champion, california_records(1))
    assert answer.price_low < answer.price < answer.price_high
    assert answer.model_version == "1"
    uuid.UUID(answer.prediction_id)
    row = logged_rows(log_url, [answer.prediction_id])[answer.prediction_id]
    assert row.protocol == "grpc"
    assert row.price == pytest.approx(answer.price)
    assert row.features["ocean_proximity"] == california_records(1)[0]["ocean_proximity"]


def test_predict_many_answers_in_order_with_the_same_prices_as_http(
    grpc_champion: GrpcClient, served_champion: RunningService
) -> None:
    records = california_records(60, offset=100)
    over_grpc = predict(grpc_champion, records)
    over_http = served_champion.predict(records)
    assert [a.price for a in over_grpc] == pytest.approx([a["price"] for a in over_http])
    assert [a.price_high for a in over_grpc] == pytest.approx([a["price_high"] for a in over_http])
    assert len({a.prediction_id for a in over_grpc}) == len(records)


def test_generic_feature_map_prices_like_the_typed_record(grpc_champion: GrpcClient) -> None:
    records = california_records(5, offset=300)
    typed = predict(grpc_champion, records, typed=True)
    generic = predict(grpc_champion, records, typed=False)
    assert [a.price for a in typed] == [a.price for a in generic]


def test_unknown_bedrooms_are_null_in_both_record_shapes(grpc_champion: GrpcClient) -> None:
    record = california_records(1, offset=500)[0] | {"total_bedrooms": None}
    typed = predict(grpc_champion, [record], typed=True)
    generic = predict(grpc_champion, [record], typed=False)
    assert typed[0].price == generic[0].price > 0


# ----------------------------------------------------------------------------- validation

GOOD = california_records(1, offset=700)[0]

INVALID: dict[str, tuple[dict[str, Any], str, str]] = {
    # kind: (record, field named in the error, words of the reason)
    "above maximum": (GOOD | {"median_income": 25.0}, "median_income", "less than or equal"),
    "below minimum": (GOOD | {"latitude": 10.0}, "latitude", "greater than or equal"),
    "unknown category": (GOOD | {"ocean_proximity": "MOON"}, "ocean_proximity", "Input should be"),
    "null not allowed": (GOOD | {"median_income": None}, "median_income", "valid number"),
    "missing field": (
        {k: v for k, v in GOOD.items() if k != "households"},
        "households",
        "Field required",
    ),
    "extra field": (GOOD | {"pool": 1.0}, "pool", "Extra inputs are not permitted"),
    "text for a number": (GOOD | {"total_rooms": "many"}, "total_rooms", "valid number"),
    "number for a category": (GOOD | {"ocean_proximity": 3.0}, "ocean_proximity", "Input should"),
    "not finite": (GOOD | {"population": math.inf}, "population", "finite number"),
}


@pytest.mark.parametrize("kind", list(INVALID))
def test_each_kind_of_invalid_record_is_invalid_argument_naming_record_field_and_reason(
    grpc_champion: GrpcClient, served_champion: RunningService, kind: str
) -> None:
    record, field, words = INVALID[kind]
    error = refusal(grpc_champion, [house_message(GOOD), house_message(record, typed=False)])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"record 1: field '{field}'" in error.details()
    assert words in error.details()
    # Identical judgement over HTTP: every reason HTTP gives is in the gRPC message.
    body = json.dumps({"houses": [GOOD, record]})  # json.dumps spells inf as JSON does not
    response = served_champion.client.post(
        "/predict", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    http_reasons = [
        f"record {d['loc'][1]}: field '{'.'.join(map(str, d['loc'][2:]))}': {d['msg']}"
        for d in response.json()["detail"]
    ]
    assert http_reasons
    for reason in http_reasons:
        assert reason in error.details()


def test_typed_record_with_unset_fields_reports_each_missing_field(
    grpc_champion: GrpcClient,
) -> None:
    error = refusal(grpc_champion, [pb.House(california=pb.CaliforniaHouse(longitude=-120.0))])
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    for field in ("latitude", "median_income", "ocean_proximity"):
        assert f"record 0: field '{field}': Field required" in error.details()
    assert "total_bedrooms" not in error.details()  # nullable: unset means unknown


def test_explicit_null_in_the_map_is_refused_for_a_required_feature(
    grpc_champion: GrpcClient,
) -> None:
    house = house_message(GOOD, typed=False)
    house.features.values["households"].null = NULL_VALUE
    error = refusal(grpc_champion, [house])
    assert "record 0: field 'households'" in error.details()


def test_empty_and_oversized_requests_are_refused(
    grpc_champion: GrpcClient, champion_settings: Settings
) -> None:
    empty = refusal(grpc_champion, [])
    assert empty.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "field 'houses'" in empty.details() and "at least 1" in empty.details()
    limit = champion_settings.service.max_records_per_request
    too_many = refusal(grpc_champion, [house_message(GOOD)] * (limit + 1))
    assert too_many.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"at most {limit}" in too_many.details()
    huge = house_message(GOOD | {"x" * champion_settings.service.max_body_bytes: 1.0}, typed=False)
    assert refusal(grpc_champion, [huge]).code() == grpc.StatusCode.RESOURCE_EXHAUSTED


# ----------------------------------------------------------------------------- feedback


def _feedback(client: GrpcClient, items: list[pb.FeedbackItem], metadata=None):
    request = pb.FeedbackRequest(items=items)
    return client.predictor.SubmitFeedback(request, metadata=metadata, timeout=CALL_TIMEOUT_S)


@pytest.mark.parametrize(
    "metadata",
    [None, [("authorization", "Bearer wrong-token")], [("authorization", "Basic abc")]],
    ids=["no token", "wrong token", "wrong scheme"],
)
def test_feedback_without_the_right_bearer_token_is_unauthenticated(
    grpc_champion: GrpcClient, log_url: str, metadata
) -> None:
    [answer] = predict(grpc_champion, california_records(1, offset=900))
    with pytest.raises(grpc.RpcError) as caught:
        _feedback(
            grpc_champion,
            [pb.FeedbackItem(prediction_id=answer.prediction_id, actual_price=300000.0)],
            metadata,
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    # Nothing was stored: the same item is then accepted with the right token.
    [result] = _feedback(
        grpc_champion,
        [pb.FeedbackItem(prediction_id=answer.prediction_id, actual_price=300000.0)],
        grpc_champion.auth,
    ).results
    assert result.outcome == pb.FEEDBACK_OUTCOME_ACCEPTED


def test_feedback_outcomes_per_item(grpc_champion: GrpcClient) -> None:
    first, second = predict(grpc_champion, california_records(2, offset=1000))
    items = [
        pb.FeedbackItem(prediction_id=first.prediction_id, actual_price=250000.0),
        pb.FeedbackItem(prediction_id=second.prediction_id, actual_price=1.0),
        pb.FeedbackItem(prediction_id=str(uuid.uuid4()), actual_price=250000.0),
    ]
    outcomes = [r.outcome for r in _feedback(grpc_champion, items, grpc_champion.auth).results]
    assert outcomes == [
        pb.FEEDBACK_OUTCOME_ACCEPTED,
        pb.FEEDBACK_OUTCOME_IMPLAUSIBLE,
        pb.FEEDBACK_OUTCOME_UNKNOWN_ID,
    ]
    again = [
        pb.FeedbackItem(prediction_id=first.prediction_id, actual_price=250000.0),
        pb.FeedbackItem(prediction_id=first.prediction_id, actual_price=260000.0),
    ]
    results = _feedback(grpc_champion, again, grpc_champion.auth).results
    assert [r.outcome for r in results] == [
        pb.FEEDBACK_OUTCOME_DUPLICATE,
        pb.FEEDBACK_OUTCOME_CONFLICT,
    ]
    assert results[1].detail.startswith("conflict")


def test_feedback_without_a_price_is_invalid_argument(grpc_champion: GrpcClient) -> None:
    with pytest.raises(grpc.RpcError) as caught:
        _feedback(grpc_champion, [pb.FeedbackItem(prediction_id="x")], grpc_champion.auth)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "record 0: field 'actual_price'" in caught.value.details()


# ----------------------------------------------------------------------------- model, health


def test_get_model_matches_the_http_model_document(
    grpc_champion: GrpcClient, served_champion: RunningService, champion_settings: Settings
) -> None:
    model = grpc_champion.predictor.GetModel(pb.GetModelRequest(), timeout=CALL_TIMEOUT_S)
    document = served_champion.client.get("/model").json()
    assert model.model_version == str(document["model_version"]) == "1"
    assert model.bento_tag == document["bento_tag"]
    assert model.mlflow_run_id == document["mlflow_run_id"]
    assert model.holdout_metrics["rmse"] == pytest.approx(document["holdout_metrics"]["rmse"])
    assert model.trained_at.seconds > 0
    assert [f.name for f in model.features] == champion_settings.feature_names
    assert json.loads(model.details_json)["bento_tag"] == document["bento_tag"]


def test_health_is_serving_with_a_champion(grpc_champion: GrpcClient) -> None:
    assert grpc_champion.health_status() == "SERVING"
    assert grpc_champion.health_status("") == "SERVING"


def test_reflection_lists_the_service_and_its_methods(grpc_champion: GrpcClient) -> None:
    database = ProtoReflectionDescriptorDatabase(grpc_champion.channel)
    services = set(database.get_services())
    assert {SERVICE_NAME, "grpc.health.v1.Health"} <= services
    descriptor = database.FindFileContainingSymbol(SERVICE_NAME)
    methods = [m.name for m in descriptor.service[0].method]
    assert methods == ["Predict", "SubmitFeedback", "GetModel"]


# ----------------------------------------------------------------------------- both protocols


def test_concurrent_grpc_and_http_traffic_is_batched_and_logged_with_its_protocol(
    served_champion: RunningService, log_url: str
) -> None:
    records = california_records(80, offset=2000)
    before = served_champion.metrics()

    async def traffic() -> tuple[list[str], list[str]]:
        channel = grpc.aio.insecure_channel(f"127.0.0.1:{served_champion.grpc_port}")
        stub = pb_grpc.PricePredictorStub(channel)
        async with httpx.AsyncClient(base_url=served_champion.url, timeout=60) as http:

            async def over_grpc(record: dict[str, Any]) -> str:
                request = pb.PredictRequest(houses=[house_message(record)])
                answer = await stub.Predict(request, timeout=CALL_TIMEOUT_S)
                return answer.results[0].prediction_id

            async def over_http(record: dict[str, Any]) -> str:
                response = await http.post("/predict", json={"houses": [record]})
                response.raise_for_status()
                return response.json()[0]["prediction_id"]

            calls = [over_grpc(r) for r in records[:40]] + [over_http(r) for r in records[40:]]
            ids = await asyncio.gather(*calls)
        await channel.close()
        return list(ids[:40]), list(ids[40:])

    grpc_ids, http_ids = asyncio.run(traffic())
    after = served_champion.metrics()
    batches = after["housing_batch_size_count"] - before.get("housing_batch_size_count", 0)
    rows = after["housing_batch_size_sum"] - before.get("housing_batch_size_sum", 0)
    assert rows >= 80 and rows / batches > 1, f"{rows} records in {batches} batches"
    logged = logged_rows(log_url, grpc_ids + http_ids)
    assert {logged[i].protocol for i in grpc_ids} == {"grpc"}
    assert {logged[i].protocol for i in http_ids} == {"http"}
    assert _grpc_predictions(after) - _grpc_predictions(before) >= 40


def _grpc_predictions(metrics: dict[str, float]) -> float:
    return sum(
        value
        for key, value in metrics.items()
        if key.startswith("housing_predictions_total{") and 'protocol="grpc"' in key
    )


def test_grpc_calls_are_counted_by_method_and_status_code(
    grpc_champion: GrpcClient, served_champion: RunningService
) -> None:
    key = 'housing_grpc_requests_total{code="%s",method="Predict"}'
    before = served_champion.metrics()
    predict(grpc_champion, california_records(3))
    refusal(grpc_champion, [])
    after = served_champion.metrics()
    assert after[key % "OK"] - before.get(key % "OK", 0) == 1
    assert after[key % "INVALID_ARGUMENT"] - before.get(key % "INVALID_ARGUMENT", 0) == 1
    assert after["housing_grpc_request_duration_seconds_count"] > 0


def test_every_worker_listens_on_the_grpc_port(served_champion: RunningService) -> None:
    """2 workers, one port: each worker binds it (SO_REUSEPORT) and the kernel spreads
    connections, so gRPC capacity grows with ``service.workers`` as HTTP's does."""
    server = psutil.Process(served_champion.process.pid)
    listening = {
        process.pid
        for process in server.children(recursive=True)
        for connection in process.net_connections(kind="tcp")
        if connection.status == psutil.CONN_LISTEN
        and connection.laddr.port == served_champion.grpc_port
    }
    assert len(listening) == 2, listening


def test_a_thousand_invalid_records_are_invalid_argument_within_the_metadata_limit(
    grpc_champion: GrpcClient, champion_settings: Settings
) -> None:
    count = champion_settings.service.max_records_per_request
    bad = house_message(GOOD | {"median_income": 1e6}, typed=False)
    error = refusal(grpc_champion, [bad] * count)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "record 0: field 'median_income'" in error.details()
    assert f"and {count - 1 - error.details().count('; record')} more violations" in (
        error.details()
    )
    assert len(error.details().encode()) < 16 * 1024


def test_undecodable_bytes_are_invalid_argument(grpc_champion: GrpcClient) -> None:
    raw = grpc_champion.channel.unary_unary(f"/{SERVICE_NAME}/Predict")
    with pytest.raises(grpc.RpcError) as caught:
        raw(b"\xff\xff\xff\xff", timeout=CALL_TIMEOUT_S)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "not a valid message" in caught.value.details()
