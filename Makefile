# The obvious targets. `make serve` and `make test` are the two README commands: each installs
# what it needs first, so they work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
UV := $(shell command -v uv 2>/dev/null || echo "$(PYTHON) -m uv")
VENV := .venv
HOUSING := $(VENV)/bin/housing

.PHONY: help uv install serve train test test-unit lint format docs bench clean reset
.PHONY: container container-smoke

help: ## List the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

uv: ## Install uv if the machine has none
	@command -v uv >/dev/null 2>&1 || $(PYTHON) -m uv --version >/dev/null 2>&1 \
		|| $(PYTHON) -m pip install --quiet --disable-pip-version-check uv

# Long steps say what they are doing and how long they took: on a fresh clone uv downloads and
# installs the locked packages, then compiles their bytecode for a minute or more with no output.
STEP = bash scripts/step.sh

install: uv ## Create .venv from the lock file (reproducible)
	@$(STEP) "installing the locked environment into $(VENV) (uv sync; a fresh clone downloads \
about 180 packages, then compiles their bytecode: 1-2 min on 2 cores, quiet meanwhile)" \
		$(UV) sync --frozen

# Feedback needs a bearer token from the environment. For a local run without one, a random
# token is generated once into var/feedback-token (git-ignored, mode 600) and used from there.
serve: install ## Train if there is no champion yet, then serve on 127.0.0.1:3000
	@if [ -z "$$HOUSING_FEEDBACK_TOKEN" ] && [ ! -s var/feedback-token ]; then \
		mkdir -p var && (umask 077 && $(VENV)/bin/python -c 'import secrets; print(secrets.token_hex(24))' > var/feedback-token); \
	fi
	@[ -n "$$HOUSING_FEEDBACK_TOKEN" ] || echo "feedback token (HOUSING_FEEDBACK_TOKEN unset): var/feedback-token"
	@echo "==> serving: trains a first champion if the registry has none (progress below; \
10-80 s on 2 cores), then starts bentoml serve on 127.0.0.1:3000, which answers once /readyz is \
200 (model loaded and warmed up: a few seconds more). Ctrl-C stops it."
	HOUSING_FEEDBACK_TOKEN="$${HOUSING_FEEDBACK_TOKEN:-$$(cat var/feedback-token)}" $(HOUSING) serve

train: install ## Train a challenger and promote it if it beats the champion
	$(HOUSING) train

test: install ## Lint and run the whole test suite (installs PostgreSQL/Chromium when root)
	bash scripts/test.sh

test-unit: install ## Only the fast unit tests
	$(VENV)/bin/pytest tests/unit

lint: install ## ruff check + format check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install ## Apply ruff fixes and formatting
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The configuration reference is generated from the field descriptions in housing/config/; a unit
# test (tests/unit/test_config_reference.py) fails while the committed page is stale.
docs: install ## Regenerate docs/configuration.md from the typed configuration
	$(VENV)/bin/python -m housing.config.reference --write

# Side by side with Seldon MLServer and default BentoML (docs/benchmarks.md); the peers' virtual
# environments are created from PyPI on first use under var/benchmark-peers/.
# `make bench BENCH_ARGS=--write-docs` also puts the table into docs/benchmarks.md.
bench: install ## Serving benchmark against the peers (writes benchmarks/results/)
	@command -v wrk >/dev/null 2>&1 || [ "$$(id -u)" -ne 0 ] \
		|| (apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null)
	$(VENV)/bin/python -m benchmarks.serving $(BENCH_ARGS)

container: install ## Build the champion's Bento and its container image (docker/podman/buildah)
	$(HOUSING) containerize $(BENTO)

container-smoke: install ## Build, run and smoke-test the image (LOCAL_CONTAINERS=1 here; see docs/deploy.md)
	BENTO="$(BENTO)" bash scripts/container/smoke.sh

clean: ## Remove caches (keeps models and logs)
	rm -rf .pytest_cache .ruff_cache build dist
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

reset: ## Remove ALL local state: models, MLflow runs, prediction log, reports
	rm -rf var/
