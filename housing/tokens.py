"""Where a command finds the feedback token: one source for the service and every client.

``$HOUSING_FEEDBACK_TOKEN`` (the variable named by ``service.feedback.token_env``) wins; else
the first line of ``service.feedback.token_file`` (``var/feedback-token``, which ``make serve``
generates once). ``housing serve``, ``housing simulate`` and the delivery smoke client all ask
here, so a token that serves also simulates.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from housing.config import Settings


def feedback_token_value(
    settings: Settings, environ: Mapping[str, str] | None = None
) -> str | None:
    """The feedback token from the environment, else from the token file; None if neither."""
    environ = os.environ if environ is None else environ
    feedback = settings.service.feedback
    token = environ.get(feedback.token_env) or None
    if token is None and feedback.token_file is not None:
        try:
            token = feedback.token_file.read_text().strip().splitlines()[0].strip() or None
        except (OSError, IndexError):
            token = None
    return token


def token_sources(settings: Settings) -> str:
    """How a user provides the token, for error messages."""
    feedback = settings.service.feedback
    where = f"set ${feedback.token_env}"
    if feedback.token_file is not None:
        where += f" or write it to {feedback.token_file} (service.feedback.token_file)"
    return where
