"""The one table of process exit codes, shared by the CLI, the scheduler, retraining and the
monitor-to-retrain dispatch script (which the workflows run on ``housing monitor``'s code).

The codes are a contract with automation (CI, cron, the workflows): change none of them.
"""

from __future__ import annotations

import sys

HEALTHY = 0
"""Success; for ``housing monitor``: healthy, or not enough data to judge."""

FAILURE = 1
"""Anything the user cannot fix by changing input: a store, registry or file-system failure."""

BAD_INPUT = 2
"""Bad input or configuration: unknown version, invalid rows, a bad window or option."""

RETRAIN = 3
"""``housing monitor`` only: drift or degraded performance, retraining recommended."""


def script_failure(message: object, code: int) -> int:
    """The one-line failure of a plain-Python entry point (``python -m delivery.dispatch``,
    ``delivery.smoke``, ``delivery.kubernetes``, ``serving.grpc.stubs``): ``error: <message>``
    on stderr, and ``code`` for its ``main`` to return. (The ``housing`` CLI: ``cli.common.fail``.)
    """
    print(f"error: {message}", file=sys.stderr)
    return code
