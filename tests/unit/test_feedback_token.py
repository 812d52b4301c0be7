"""One token source: $HOUSING_FEEDBACK_TOKEN, else service.feedback.token_file (make serve's
var/feedback-token), for the service and every client command."""

from __future__ import annotations

from pathlib import Path

import pytest

from housing.config import ConfigError, load_config
from housing.tokens import feedback_token_value
from serving.auth import feedback_token
from tests.fixtures.training import ROOT


def _settings(token_file: Path):
    environ = {"HOUSING_SERVICE__FEEDBACK__TOKEN_FILE": str(token_file)}
    return load_config(ROOT / "configuration.yaml", environ=environ)


def test_the_variable_wins_then_the_file_then_none(tmp_path: Path) -> None:
    token_file = tmp_path / "feedback-token"
    settings = _settings(token_file)
    assert feedback_token_value(settings, {}) is None
    token_file.write_text("from-file\n")
    assert feedback_token_value(settings, {}) == "from-file"
    assert feedback_token_value(settings, {"HOUSING_FEEDBACK_TOKEN": "from-env"}) == "from-env"
    assert feedback_token(settings, {}) == "from-file"  # the service reads the same file


def test_the_service_names_both_sources_when_there_is_no_token(tmp_path: Path) -> None:
    token_file = tmp_path / "missing"
    with pytest.raises(ConfigError) as caught:
        feedback_token(_settings(token_file), {})
    assert "$HOUSING_FEEDBACK_TOKEN" in str(caught.value)
    assert str(token_file) in str(caught.value)
