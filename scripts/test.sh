#!/usr/bin/env bash
# The whole test suite, exactly as CI runs it: lint, import contracts, workflow lint, then every
# pytest layer.
# Assumes `uv sync` has run (the Makefile's `test` target does both).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=scripts/test-env.sh
source scripts/test-env.sh

echo "== ruff"
.venv/bin/ruff check .
.venv/bin/ruff format --check .

echo "== import contracts (layers; pyproject.toml [tool.importlinter])"
.venv/bin/lint-imports --no-cache

if [ -x scripts/actionlint.sh ]; then
    echo "== actionlint"
    scripts/actionlint.sh
fi

echo "== pytest"
.venv/bin/pytest tests --durations=15 "$@"

if [ "${CONTAINER_SMOKE:-0}" = "1" ]; then
    echo "== container smoke"
    make container-smoke
fi
