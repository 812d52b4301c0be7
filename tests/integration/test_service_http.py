"""The HTTP API of a real ``bentoml serve`` (2 workers): predictions, validation, feedback,
the model document, metrics and batching, as a client sees them."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, func, select

from housing.config import Settings, load_config
from housing.store.tables import feedback, predictions
from support.records import dataset_records
from tests.fixtures.serving import RunningService
from tests.fixtures.training import ROOT

pytestmark = pytest.mark.timeout(300)


CALIFORNIA = load_config(ROOT / "configuration.yaml", environ={})


def california_records(count: int, offset: int = 0) -> list[dict[str, Any]]:
    """Real rows of the dataset as API records (missing bedrooms as null)."""
    return dataset_records(CALIFORNIA, count, offset=offset)


def logged_rows(service_db: str, ids: list[str], timeout_s: float = 10.0) -> dict[str, Any]:
    """Rows of the prediction log for ``ids`` (waits for the buffered writer to flush)."""
    engine = create_engine(service_db)
    deadline = time.monotonic() + timeout_s
    rows: dict[str, Any] = {}
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            query = select(predictions).where(predictions.c.prediction_id.in_(ids))
            rows = {row.prediction_id: row for row in connection.execute(query)}
        if len(rows) == len(ids):
            break
        time.sleep(0.1)
    engine.dispose()
    return rows


@pytest.fixture(scope="module")
def service(served_champion: RunningService) -> RunningService:
    return served_champion


@pytest.fixture(scope="module")
def log_url(served_champion: RunningService) -> str:
    return f"sqlite:///{served_champion.log_path.parent / 'predictions.db'}"


def test_predict_one_house_answers_price_interval_version_and_logs_it(
    service: RunningService, log_url: str
) -> None:
    record = california_records(1)[0]
    response = service.client.post("/predict", json={"houses": [record]})
    assert response.status_code == 200, response.text
    [answer] = response.json()
    assert set(answer) == {"prediction_id", "price", "price_low", "price_high", "model_version"}
    assert answer["model_version"] == "1"
    assert 0 < answer["price_low"] < answer["price"] < answer["price_high"]
    rows = logged_rows(log_url, [answer["prediction_id"]])
    row = rows[answer["prediction_id"]]
    assert row.price == answer["price"] and row.model_version == "1"
    assert row.protocol == "http" and row.latency_ms > 0
    assert row.features["median_income"] == record["median_income"]


def test_predict_many_houses_in_request_order(service: RunningService, log_url: str) -> None:
    records = california_records(200, offset=10)
    answers = service.predict(records)
    assert len(answers) == len(records)
    ids = [answer["prediction_id"] for answer in answers]
    assert len(set(ids)) == len(ids)
    # Order: a house priced alone gets the same price as inside the big request.
    single = service.predict([records[137]])[0]
    assert single["price"] == pytest.approx(answers[137]["price"], rel=1e-9)
    assert len(logged_rows(log_url, ids)) == len(ids)


def test_missing_bedrooms_are_accepted_as_null(service: RunningService) -> None:
    record = california_records(1)[0] | {"total_bedrooms": None}
    assert service.predict([record])[0]["price"] > 0


def _bad(change: dict[str, Any], drop: str | None = None) -> dict[str, Any]:
    record = california_records(1)[0] | change
    if drop:
        record.pop(drop)
    return record


@pytest.mark.parametrize(
    ("record", "field", "reason"),
    [
        (_bad({"median_income": 80.0}), "median_income", "less than or equal to 20"),
        (_bad({"longitude": "-122.2"}), "longitude", "valid number"),
        (_bad({"ocean_proximity": "ON THE MOON"}), "ocean_proximity", "INLAND"),
        (_bad({"garage": 2}), "garage", "Extra inputs are not permitted"),
        (_bad({}, drop="latitude"), "latitude", "Field required"),
        (_bad({"population": None}), "population", "valid number"),
        (_bad({"households": True}), "households", "valid number"),
    ],
    ids=["out-of-range", "string-number", "unknown-category", "extra-field", "missing-field",
         "null-not-nullable", "bool"],
)  # fmt: skip
def test_invalid_record_is_400_naming_record_field_and_reason(
    service: RunningService, record: dict[str, Any], field: str, reason: str
) -> None:
    good = california_records(1)[0]
    response = service.client.post("/predict", json={"houses": [good, good, record]})
    assert response.status_code == 400, response.text
    details = response.json()["detail"]
    assert any(d["loc"] == ["houses", 2, field] and reason in d["msg"] for d in details), details


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"houses": []}', "at least 1 item"),
        (b'{"houses": [', "Invalid JSON"),
        (b"[1, 2]", "object"),
        (b'{"houses": [], "extra": 1}', ""),
        (b"", ""),
    ],
    ids=["empty-list", "broken-json", "not-an-object", "unknown-top-level", "no-body"],
)
def test_malformed_request_is_400(service: RunningService, body: bytes, reason: str) -> None:
    response = service.client.post(
        "/predict", content=body, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert reason in response.text


def test_too_many_records_is_400(service: RunningService, champion_settings: Settings) -> None:
    limit = champion_settings.service.max_records_per_request
    record = california_records(1)[0]
    response = service.client.post("/predict", json={"houses": [record] * (limit + 1)})
    assert response.status_code == 400
    assert f"at most {limit} items" in response.text


def test_oversized_body_is_413_declared_or_chunked(
    service: RunningService, champion_settings: Settings
) -> None:
    body = b" " * (champion_settings.service.max_body_bytes + 1)
    headers = {"Content-Type": "application/json"}
    response = service.client.post("/predict", content=body, headers=headers)
    assert response.status_code == 413
    assert "exceeds the limit" in response.json()["error"]

    def chunks() -> Any:
        for start in range(0, len(body), 65536):
            yield body[start : start + 65536]

    chunked = service.client.post("/predict", content=chunks(), headers=headers)
    assert chunked.status_code == 413


def test_model_document_names_version_tag_run_metrics_and_schema(
    service: RunningService,
) -> None:
    response = service.client.get("/model")
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["model_version"] == "1"
    assert document["bento_tag"].startswith("housing_price:")
    assert document["mlflow_run_id"]
    assert document["holdout_metrics"]["rmse"] > 0
    assert "median_income" in document["features"]


def test_model_card_is_a_page_and_a_json_document(service: RunningService) -> None:
    page = service.client.get("/model/card")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"].startswith("text/html")
    document = service.client.get("/model/card", headers={"Accept": "application/json"}).json()
    assert document["mlflow"]["version"] == 1
    assert document["dataset"]["sha256"] in page.text
    assert "id='card-version'>1<" in page.text
    assert [event["version"] for event in document["promotions"]] == [1]
    assert document["plots"]  # the diagnostic plots travel inside the card


def test_builtin_endpoints_stay(service: RunningService) -> None:
    for path in ("/livez", "/readyz", "/metrics", "/docs.json"):
        assert service.client.get(path).status_code == 200, path


# ----------------------------------------------------------------------------- feedback


def test_feedback_outcomes(service: RunningService, log_url: str) -> None:
    answers = service.predict(california_records(3, offset=300))
    first, second, third = (a["prediction_id"] for a in answers)
    response = service.feedback(
        [
            {"prediction_id": first, "actual_price": 250000.0},
            {"prediction_id": first, "actual_price": 250000.0},
            {"prediction_id": first, "actual_price": 260000.0},
            {"prediction_id": "00000000-0000-4000-8000-000000000000", "actual_price": 1e5},
            {"prediction_id": second, "actual_price": -5.0},
            {"prediction_id": third, "actual_price": 5e9},
        ]
    )
    assert response.status_code == 200, response.text
    outcomes = [item["outcome"] for item in response.json()]
    assert outcomes == ["accepted", "duplicate", "conflict", "unknown", "implausible",
                        "implausible"]  # fmt: skip
    engine = create_engine(log_url)
    with engine.connect() as connection:
        stored = dict(
            connection.execute(select(feedback.c.prediction_id, feedback.c.actual_price)).all()
        )
    engine.dispose()
    assert stored[first] == 250000.0
    assert second not in stored and third not in stored


@pytest.mark.parametrize(
    "authorization", [None, "Bearer wrong-token", "Basic dGVzdA==", "Bearer"],
    ids=["missing", "wrong-token", "other-scheme", "empty-token"],
)  # fmt: skip
def test_feedback_without_valid_token_is_401_and_stores_nothing(
    service: RunningService, log_url: str, authorization: str | None
) -> None:
    [answer] = service.predict(california_records(1, offset=400))
    headers = {"Authorization": authorization} if authorization else {}
    response = service.client.post(
        "/feedback",
        json={"items": [{"prediction_id": answer["prediction_id"], "actual_price": 1e5}]},
        headers=headers,
    )
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == "Bearer"
    engine = create_engine(log_url)
    with engine.connect() as connection:
        count = connection.execute(
            select(func.count()).where(feedback.c.prediction_id == answer["prediction_id"])
        ).scalar()
    engine.dispose()
    assert count == 0


def test_invalid_feedback_body_is_400(service: RunningService) -> None:
    for body in ({"items": []}, {"items": [{"prediction_id": "x"}]},
                 {"items": [{"prediction_id": "x", "actual_price": "lots"}]}):  # fmt: skip
        response = service.client.post("/feedback", json=body, headers=service.auth)
        assert response.status_code == 400, (body, response.text)


def test_concurrent_feedback_for_one_prediction_stores_exactly_one_value(
    service: RunningService, log_url: str
) -> None:
    [answer] = service.predict(california_records(1, offset=500))
    prediction_id = answer["prediction_id"]
    prices = [100000.0 + 1000.0 * i for i in range(24)]

    def send(price: float) -> str:
        with httpx.Client(base_url=service.url, timeout=60) as client:
            response = client.post(
                "/feedback",
                json={"items": [{"prediction_id": prediction_id, "actual_price": price}]},
                headers=service.auth,
            )
            assert response.status_code == 200, response.text
            return response.json()[0]["outcome"]

    with ThreadPoolExecutor(len(prices)) as pool:
        outcomes = list(pool.map(send, prices))
    assert outcomes.count("accepted") == 1
    assert set(outcomes) <= {"accepted", "conflict"}
    winner = prices[outcomes.index("accepted")]
    engine = create_engine(log_url)
    with engine.connect() as connection:
        stored = connection.execute(
            select(feedback.c.actual_price).where(feedback.c.prediction_id == prediction_id)
        ).all()
    engine.dispose()
    assert stored == [(winner,)]


# ----------------------------------------------------------------------------- batching


def test_concurrent_requests_are_merged_into_batches(service: RunningService) -> None:
    before = service.metrics()
    record = california_records(1, offset=600)[0]
    requests = 256

    def one(_: int) -> int:
        return service.client.post("/predict", json={"houses": [record]}).status_code

    with ThreadPoolExecutor(64) as pool:
        statuses = list(pool.map(one, range(requests)))
    assert statuses == [200] * requests
    after = service.metrics()
    batches = after["housing_batch_size_count"] - before.get("housing_batch_size_count", 0)
    rows = after["housing_batch_size_sum"] - before.get("housing_batch_size_sum", 0)
    assert rows == requests
    assert rows / batches > 1, f"mean batch size {rows / batches:.2f}"
    http_predictions = 'housing_predictions_total{model_version="1",protocol="http"}'
    assert after[http_predictions] - before.get(http_predictions, 0) == requests


def test_admin_reload_needs_the_admin_token_and_reports_the_served_version(
    service: RunningService,
) -> None:
    from tests.fixtures.serving import ADMIN_TOKEN

    assert service.client.post("/admin/reload", json={}).status_code == 401
    wrong = service.client.post("/admin/reload", json={}, headers=service.auth)
    assert wrong.status_code == 401  # the feedback token is not an admin token
    response = service.client.post(
        "/admin/reload", json={}, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"model_version": "1", "swapped": False}


def _route_headers(path: str, service: RunningService) -> dict[str, str]:
    from tests.fixtures.serving import ADMIN_TOKEN

    if path == "/admin/reload":
        return {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    return service.auth if path == "/feedback" else {}


POST_ROUTES = ["/predict", "/feedback", "/admin/reload"]
NOT_JSON = {
    "multipart-with-boundary": ("multipart/form-data; boundary=xyz", b"--xyz\r\n\r\n--xyz--\r\n"),
    "multipart-no-boundary": ("multipart/form-data", b'{"houses": []}'),
    "form": ("application/x-www-form-urlencoded", b'{"houses": [], "items": []}'),
    "text": ("text/plain", b'{"houses": []}'),
    "missing": (None, b'{"houses": []}'),
}


@pytest.mark.parametrize("path", POST_ROUTES)
@pytest.mark.parametrize("kind", list(NOT_JSON))
def test_every_post_route_refuses_non_json_with_415_and_logs_no_traceback(
    service: RunningService, path: str, kind: str
) -> None:
    content_type, body = NOT_JSON[kind]
    headers = _route_headers(path, service)
    if content_type is not None:
        headers["Content-Type"] = content_type
    log_before = service.log_path.read_text(errors="replace")
    response = service.client.post(path, content=body, headers=headers)
    assert response.status_code == 415, response.text
    assert "send application/json" in response.json()["error"]
    time.sleep(0.2)
    assert "Traceback" not in service.log_path.read_text(errors="replace")[len(log_before) :]


@pytest.mark.parametrize("path", ["/predict", "/feedback"])
def test_empty_json_bodies_and_unknown_top_level_keys_are_400(
    service: RunningService, path: str
) -> None:
    headers = _route_headers(path, service) | {"Content-Type": "application/json"}
    key = "houses" if path == "/predict" else "items"
    for body in (b"", b"{}", b'{"%s": [], "extra": 1}' % key.encode()):
        response = service.client.post(path, content=body, headers=headers)
        assert response.status_code == 400, (body, response.text)
        assert isinstance(response.json()["detail"], list)
    item = {"prediction_id": "x", "actual_price": 1.0}
    if path == "/feedback":
        extra = service.client.post(
            path, json={"items": [item], "comment": "hi"}, headers=service.auth
        )
        assert extra.status_code == 400
        assert any(d["loc"] == ["comment"] for d in extra.json()["detail"])


def test_admin_reload_takes_an_empty_post_or_an_empty_json_object(service: RunningService) -> None:
    headers = _route_headers("/admin/reload", service)
    assert service.client.post("/admin/reload", headers=headers).status_code == 200
    unknown = service.client.post("/admin/reload", json={"force": True}, headers=headers)
    assert unknown.status_code == 400


def test_bentoml_sync_client_predicts_and_sends_feedback(service: RunningService) -> None:
    import bentoml

    record = california_records(1)[0]
    with bentoml.SyncHTTPClient(service.url, token=service.token) as client:
        answers = client.predict(houses=[record])
        assert answers[0]["price"] > 0
        results = client.feedback(
            items=[{"prediction_id": answers[0]["prediction_id"], "actual_price": 250000.0}]
        )
    assert results[0]["outcome"] == "accepted"


def test_no_swap_and_no_monitor_figure_right_after_start(service: RunningService) -> None:
    """The first load of each worker is not a swap; before any monitor run the monitor gauges
    are NaN, not a perfect-looking 0."""
    import math

    metrics = service.metrics()
    assert metrics.get("housing_model_swaps_total", 0.0) == 0.0
    for gauge in ("housing_monitor_drift_share", "housing_monitor_live_rmse"):
        assert math.isnan(metrics.get(gauge, math.nan)), (gauge, metrics.get(gauge))


def test_every_post_answer_carries_bentoml_request_context_headers(
    service: RunningService,
) -> None:
    """The POST routes are answered by the project's middlewares, yet carry what BentoML's own
    API routes carry: ``Server: BentoML Service/<name>`` on every answer (200, 400, 401, 415),
    and on a traced route (``/admin/reload``; ``/predict`` and ``/feedback`` skip tracing for
    speed, serving/runtime.py) a fresh ``X-BentoML-Request-ID`` per request from BentoML's
    request context."""
    server = "BentoML Service/housing_price_service"
    answers = [
        service.client.post(path, json={}, headers=_route_headers(path, service))
        for path in POST_ROUTES
    ]
    answers.append(service.client.post("/feedback", json={"items": []}))  # no token
    answers.append(
        service.client.post("/predict", content=b"x", headers={"Content-Type": "text/plain"})
    )
    assert [answer.status_code for answer in answers] == [400, 400, 200, 401, 415]
    assert all(answer.headers.get("server") == server for answer in answers), answers
    headers = _route_headers("/admin/reload", service)
    request_ids = [
        service.client.post("/admin/reload", headers=headers).headers["x-bentoml-request-id"]
        for _ in range(3)
    ]
    assert all(len(rid) == 16 and int(rid, 16) > 0 for rid in request_ids), request_ids
    assert len(set(request_ids)) == 3, request_ids


def _own_service(settings: Settings, folder: Any, **overrides: Any) -> Any:
    """A one-worker server of the session champion with its own log, for changed settings."""
    from tests.fixtures.serving import service_with_own_log

    return service_with_own_log(settings, folder, service__workers=1, **overrides)


def test_cors_when_enabled_covers_a_preflight_and_a_cross_origin_predict(
    champion_settings: Settings, tmp_path: Any
) -> None:
    origin = "https://app.example"
    with _own_service(
        champion_settings,
        tmp_path,
        service__cors__enabled=True,
        service__cors__allow_origins=f"[{origin}]",
    ) as cors_service:
        preflight = cors_service.client.options(
            "/predict",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == origin
        assert "POST" in preflight.headers["access-control-allow-methods"]
        record = california_records(1)[0]
        answer = cors_service.client.post(
            "/predict", json={"houses": [record]}, headers={"Origin": origin}
        )
        assert answer.status_code == 200
        assert answer.headers["access-control-allow-origin"] == origin
        refused = cors_service.client.post(
            "/predict", json={"houses": []}, headers={"Origin": origin}
        )
        assert refused.status_code == 400  # errors carry the header too, so browsers read them
        assert refused.headers["access-control-allow-origin"] == origin
        stranger = cors_service.client.post(
            "/predict", json={"houses": [record]}, headers={"Origin": "https://evil.example"}
        )
        assert "access-control-allow-origin" not in stranger.headers


def _address(service: RunningService) -> tuple[str, int]:
    host, port = service.url.removeprefix("http://").split(":")
    return host, int(port)


def _stuck_client(service: RunningService, data: bytes) -> Any:
    """A raw connection that sends ``data`` (part of a request) and then nothing."""
    import socket

    client = socket.create_connection(_address(service))
    client.sendall(data)
    return client


def _answer_within(client: Any, limit_s: float) -> tuple[str, float]:
    """What the server sends before closing ``client`` (read until EOF), and when (monotonic)."""
    client.settimeout(limit_s)
    answer = b""
    while chunk := client.recv(4096):
        answer += chunk
    return answer.decode(errors="replace"), time.monotonic()


def _head(host: str, *lines: str) -> bytes:
    return ("\r\n".join(["POST /predict HTTP/1.1", f"Host: {host}", *lines]) + "\r\n").encode()


def test_slow_headers_and_slow_bodies_get_408_from_the_configured_timeouts(
    champion_settings: Settings, tmp_path: Any
) -> None:
    """A client that never finishes its headers, or its body (with Content-Length or chunked),
    is answered 408 and cut after the configured time, not held open."""
    header_s, body_s = 2.0, 3.0
    with _own_service(
        champion_settings,
        tmp_path,
        service__header_read_timeout_s=header_s,
        service__body_read_timeout_s=body_s,
    ) as slow_service:
        host, _ = _address(slow_service)
        json_head = _head(host, "Content-Type: application/json")
        clients = {
            "silent": _stuck_client(slow_service, b""),
            "headers": _stuck_client(slow_service, json_head),  # no blank line: headers go on
            # a keep-alive connection: one answered request, then a next one's headers stall
            "next headers": _stuck_client(
                slow_service, f"GET /livez HTTP/1.1\r\nHost: {host}\r\n\r\n".encode() + json_head
            ),
            "sized body": _stuck_client(
                slow_service, json_head + b'Content-Length: 1000\r\n\r\n{"houses": ['
            ),
            "chunked body": _stuck_client(
                slow_service, json_head + b'Transfer-Encoding: chunked\r\n\r\nc\r\n{"houses": [\r\n'
            ),
        }
        opened = time.monotonic()  # all within milliseconds of this
        answers = {name: _answer_within(client, 30) for name, client in clients.items()}
        for client in clients.values():
            client.close()
        assert slow_service.ready()  # the server itself is unaffected
        log = slow_service.log_tail(200)
    assert answers["next headers"][0].startswith("HTTP/1.1 200"), answers["next headers"]
    for name in ("silent", "headers", "next headers"):
        answer, closed = answers[name]
        after_s = closed - opened
        assert "HTTP/1.1 408" in answer, (name, answer)
        assert f"request headers not received within {header_s:g} s" in answer
        assert header_s - 0.5 < after_s < header_s + 5, (name, after_s)
    for name in ("sized body", "chunked body"):
        answer, closed = answers[name]
        after_s = closed - opened
        assert answer.startswith("HTTP/1.1 408"), (name, answer)
        assert '{"error":"request body not received within 3 s"}' in answer, (name, answer)
        assert body_s - 0.5 < after_s < body_s + 5, (name, after_s)
    assert "Traceback" not in log, log


def test_sigterm_ends_the_server_within_the_drain_time_despite_stuck_clients(
    champion_settings: Settings, tmp_path: Any
) -> None:
    """Clients stuck mid-body (read timeouts far longer than the drain time), stuck mid-headers
    and idle on keep-alive: SIGTERM still ends the whole server within ``drain_timeout_s``."""
    drain_s = 3.0
    with _own_service(
        champion_settings,
        tmp_path,
        service__drain_timeout_s=drain_s,
        service__body_read_timeout_s=120,
        service__header_read_timeout_s=120,
    ) as slow_service:
        host, _ = _address(slow_service)
        json_head = _head(host, "Content-Type: application/json")
        stuck = [
            _stuck_client(slow_service, json_head + b'Content-Length: 1000\r\n\r\n{"houses": [')
            for _ in range(5)
        ]
        stuck.append(
            _stuck_client(slow_service, json_head + b'Transfer-Encoding: chunked\r\n\r\n2\r\n{"')
        )
        stuck.append(_stuck_client(slow_service, json_head))
        idle = [httpx.Client(base_url=slow_service.url) for _ in range(3)]
        for client in idle:  # one answered request each; the connection stays open
            assert client.post("/predict", json={"houses": california_records(1)}).is_success
        time.sleep(0.5)  # the stuck requests have reached the application
        started = time.monotonic()
        exit_code = slow_service.terminate()
        stopped_after = time.monotonic() - started
        for client in stuck:
            client.close()
        for client in idle:
            client.close()
    assert exit_code == 0
    # drain time, then the lifespan shutdown (gRPC stop, prediction-log flush) and the arbiter
    assert stopped_after < drain_s + 5, stopped_after
