"""SIGTERM while both protocols are busy: every answered prediction, gRPC or HTTP, is logged."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from housing.config import Settings
from tests.fixtures.grpc import GrpcLoadGenerator, private_bentoml_home
from tests.fixtures.serving import (
    LoadGenerator,
    example_records,
    logged_prediction_ids,
    rows_unflushed_for,
    service_with_own_log,
    sqlite_log_url,
)

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]


def test_sigterm_under_grpc_and_http_load_loses_no_answered_prediction(
    champion_settings: Settings, tmp_path: Path
) -> None:
    records = example_records(champion_settings)
    home = private_bentoml_home(champion_settings, tmp_path)
    server = service_with_own_log(
        champion_settings,
        tmp_path,
        env={"BENTOML_HOME": str(home)},
        bentoml__home=home,
        **rows_unflushed_for(60),  # only the shutdown drain can save the rows
    )
    with (
        server as service,
        GrpcLoadGenerator(service.grpc_port, records, clients=6) as over_grpc,
        LoadGenerator(service.url, records, clients=2) as over_http,
    ):
        over_grpc.wait_for_answers(300)
        over_http.wait_for_answers(50)
        service.process.send_signal(signal.SIGTERM)
        assert service.process.wait(60) == 0, service.log_tail()
    grpc_answered, http_answered = list(over_grpc.answered_ids), list(over_http.answered_ids)
    assert len(grpc_answered) >= 300
    # After SIGTERM, calls not yet taken up are refused (UNAVAILABLE, or CANCELLED for those
    # already queued in the gRPC core); none fails any other way.
    refused = set(over_grpc.statuses) - {"OK"}
    assert refused <= {"UNAVAILABLE", "CANCELLED"}, over_grpc.errors[:5]
    for answered in (grpc_answered, http_answered):
        missing = set(answered) - logged_prediction_ids(sqlite_log_url(tmp_path), answered)
        assert not missing, f"{len(missing)} of {len(answered)} answered predictions not logged"
