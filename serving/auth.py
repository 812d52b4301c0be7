"""Bearer-token checks for feedback (and anything else that changes stored data).

The token comes from the environment variable named by ``service.feedback.token_env``, else
from ``service.feedback.token_file`` (``housing.tokens``; never a committed file), and is
compared in constant time. A service with feedback enabled and no
token refuses to start unless ``allow_unauthenticated`` is set for local development.
"""

from __future__ import annotations

import hmac
import os
from collections.abc import Mapping

from housing.config import ConfigError, Settings
from housing.tokens import feedback_token_value, token_sources

_SCHEME = "bearer"
# Operators' token for POST /admin/reload; unset means the route is disabled.
ADMIN_TOKEN_ENV = "HOUSING_ADMIN_TOKEN"


def feedback_token(settings: Settings, environ: Mapping[str, str] | None = None) -> str | None:
    """The configured feedback token; raises ConfigError when feedback would be unprotected."""
    environ = os.environ if environ is None else environ
    feedback = settings.service.feedback
    token = feedback_token_value(settings, environ)
    if feedback.enabled and token is None and not feedback.allow_unauthenticated:
        raise ConfigError(
            f"service.feedback.enabled is true but there is no feedback token: "
            f"{token_sources(settings)}, or set service.feedback.allow_unauthenticated: true "
            "for local development"
        )
    return token


def bearer_matches(authorization: str | None, token: str | None) -> bool:
    """True when ``authorization`` is ``Bearer <token>``; always true when no token is set
    (only possible with ``allow_unauthenticated``)."""
    if token is None:
        return True
    if not authorization:
        return False
    scheme, _, credentials = authorization.strip().partition(" ")
    if scheme.lower() != _SCHEME:
        return False
    return hmac.compare_digest(credentials.strip().encode(), token.encode())


def admin_token(environ: Mapping[str, str] | None = None) -> str | None:
    environ = os.environ if environ is None else environ
    return environ.get(ADMIN_TOKEN_ENV) or None
