"""Requests refused by validation reach the monitor: a real ``bentoml serve`` answers 400 (and
gRPC INVALID_ARGUMENT) as before, records the refusals in the log database, and ``housing
monitor`` names them in the verdict when their share passes ``monitoring.refusals.max_share``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime

import grpc
import numpy as np
import pytest

from monitoring.monitor import run_monitor
from monitoring.window import Window
from serving.grpc.convert import house_message
from serving.grpc.generated import housing_pb2 as pb
from tests.fixtures.grpc import grpc_client
from tests.fixtures.monitoring import own_outputs
from tests.fixtures.serving import example_records, running_service

REQUEST_RECORDS = 20
UNIT_BUG_SHARE = 0.05  # median_income x10 in 5% of records (issue 13's unit bug)


@pytest.fixture
def settings(champion_settings, tmp_path):
    return own_outputs(champion_settings, tmp_path)


def _requests(records: list[dict]) -> list[list[dict]]:
    return [records[i : i + REQUEST_RECORDS] for i in range(0, len(records), REQUEST_RECORDS)]


def test_refused_share_is_a_reason_and_clean_traffic_gives_none(settings) -> None:
    clean = example_records(settings, 600, seed=11)
    buggy = example_records(settings, 600, seed=12)
    rng = np.random.default_rng(5)
    for index in rng.choice(len(buggy), int(len(buggy) * UNIT_BUG_SHARE), replace=False):
        buggy[index] = buggy[index] | {"median_income": buggy[index]["median_income"] * 10}
    income_max = settings.dataset.features["median_income"].max
    start = datetime.now(UTC)
    refused_records = logged_records = 0
    with running_service(settings, storage__flush_interval_s=0.1) as service:
        for houses in _requests(clean):
            assert service.client.post("/predict", json={"houses": houses}).status_code == 200
        middle = datetime.now(UTC)
        for houses in _requests(buggy):
            response = service.client.post("/predict", json={"houses": houses})
            bad = [h for h in houses if h["median_income"] > income_max]
            if not bad:
                assert response.status_code == 200
                logged_records += len(houses)
                continue
            # The 400 answer is unchanged: BentoML's shape, record index, field and reason.
            assert response.status_code == 400
            detail = response.json()["detail"]
            assert {tuple(d["loc"][2:]) for d in detail} == {("median_income",)}
            assert all("less than or equal" in d["msg"] for d in detail)
            refused_records += len(houses)
        # The same refusal over gRPC is recorded too (one request of two records).
        houses = [clean[0], clean[0] | {"median_income": 150.0}]
        with grpc_client(service.grpc_port) as client, pytest.raises(grpc.RpcError) as caught:
            request = pb.PredictRequest(houses=[house_message(h) for h in houses])
            client.predictor.Predict(request, timeout=30)
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        refused_records += 2
    assert refused_records > 200  # ~64% of 20-record requests carry a bad record

    quiet = run_monitor(settings, Window(since=start, until=middle)).summary
    assert quiet.refusals is not None and quiet.refusals.refused == 0
    assert quiet.refusals.logged == len(clean)
    assert quiet.refusals.check is not None and not quiet.refusals.check.breached
    assert not any("refused" in reason for reason in quiet.reasons)

    result = run_monitor(settings, Window(since=middle))
    summary = result.summary
    refusals = summary.refusals
    assert refusals is not None and refusals.logged == logged_records
    assert refusals.refused == refused_records
    print(  # the figures docs/monitoring.md quotes (pytest -s)
        f"unit bug: {refusals.refused} of {refusals.refused + refusals.logged} records "
        f"refused (share {refusals.share:.3f}); clean: share {quiet.refusals.share:.3f}"
    )
    assert refusals.check is not None and refusals.check.breached
    assert summary.verdict == "drift" and result.exit_code == 3
    (reason,) = [r for r in summary.reasons if "refused by validation" in r]
    assert f"{refused_records} of {refused_records + logged_records}" in reason
    assert "median_income (less_than_equal)" in reason
    by_reason = {(r.field, r.kind): r.records for r in refusals.reasons}
    assert by_reason[("", "refused_with_request")] > by_reason[("median_income", "less_than_equal")]
    # Every surface: the JSON summary, the report's verdict section, the MLflow metrics.
    written = json.loads(result.summary_path.read_text())
    assert written["refusals"]["refused"] == refused_records
    report = result.report_path.read_text()
    verdict_block = report[report.index("id='verdict'") : report.index("</section>")]
    assert "refused by validation" in verdict_block and "BREACHED" in verdict_block
    assert summary.metrics()["refused_share"] == pytest.approx(refusals.share)
