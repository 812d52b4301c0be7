# Control-plane image: the `housing` CLI (train, monitor, schedule, retrain) and the MLflow
# tracking server, from the same uv.lock as the tests. The prediction service itself runs from
# the Bento's image (`make container`); this image never serves predictions.
# Build from the repository root: docker build -f deploy/tools.Dockerfile -t housing-tools .
ARG BASE_IMAGE=python:3.11-slim
FROM ${BASE_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv \
    PATH=/app/.venv/bin:$PATH \
    OMP_NUM_THREADS=1

RUN pip install --no-cache-dir "uv==0.13.9" \
    && useradd --create-home --uid 1035 housing \
    && mkdir -p /app/var /mlartifacts \
    && chown housing:housing /app/var /mlartifacts
WORKDIR /app

# Dependencies first (cached while only the code changes).
COPY pyproject.toml uv.lock README.md ./
# Only the `ops` group on top of the serving dependencies (no dev tools).
RUN uv sync --frozen --no-default-groups --group ops --no-install-project

COPY housing ./housing
COPY training ./training
COPY serving ./serving
COPY monitoring ./monitoring
COPY delivery ./delivery
COPY service.py configuration.yaml ./
COPY data ./data
RUN uv sync --frozen --no-default-groups --group ops

USER housing
ENTRYPOINT []
CMD ["housing", "--help"]
