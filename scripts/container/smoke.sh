#!/usr/bin/env bash
# `make container-smoke`: build the service image, run it, check HTTP predict + feedback, gRPC
# health + GetModel and /metrics from outside (delivery/smoke.py), check it runs as non-root,
# stop it, and print how long it all took. Runs unchanged on a machine with Docker (GitHub
# Actions); machine-specific help is opt-in:
#
#   BENTO=name:version      containerize this Bento (default: build the champion's, training
#                           one first when there is no champion yet)
#   CONTAINER_ENGINE=...    docker | podman (default: docker when its daemon answers, else podman)
#   LOCAL_CONTAINERS=1      machines without Docker Hub access or with podman's defaults refused:
#                           use scripts/container/containers.conf (runc, explicit ulimits) and
#                           build the local base image (scripts/container/base-image.sh) first
#   HOUSING_FEEDBACK_TOKEN  token the container is started with (default: a random one)
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$(date +%s)
housing=.venv/bin/housing
python=.venv/bin/python

if [ "${LOCAL_CONTAINERS:-0}" = "1" ]; then
    export CONTAINERS_CONF="${CONTAINERS_CONF:-$PWD/scripts/container/containers.conf}"
    scripts/container/base-image.sh
fi

engine="${CONTAINER_ENGINE:-}"
if [ -z "$engine" ]; then
    if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then
        engine=docker
    elif command -v podman >/dev/null 2>&1; then
        engine=podman
    else
        echo "container-smoke: needs docker (with a daemon) or podman" >&2
        exit 1
    fi
fi

bento="${BENTO:-}"
if [ -z "$bento" ]; then
    if ! bento="$($housing build 2>/dev/null | tail -n 1)" || [ -z "$bento" ]; then
        echo "container-smoke: no champion yet, training one"
        $housing train
        bento="$($housing build | tail -n 1)"
    fi
fi
echo "container-smoke: Bento $bento, engine $engine"

build_started=$(date +%s)
image="$($housing containerize "$bento" --backend "$engine" | tail -n 1)"
build_seconds=$(( $(date +%s) - build_started ))
echo "container-smoke: image $image built in ${build_seconds} s"

read -r http_port grpc_port < <($python - <<'PY'
import socket
ports = []
sockets = [socket.socket() for _ in range(2)]
for s in sockets:
    s.bind(("127.0.0.1", 0))
    ports.append(s.getsockname()[1])
for s in sockets:
    s.close()
print(*ports)
PY
)
token="${HOUSING_FEEDBACK_TOKEN:-smoke-$($python -c 'import secrets; print(secrets.token_hex(16))')}"

run_started=$(date +%s)
container="$($engine run -d \
    -p "127.0.0.1:${http_port}:3000" -p "127.0.0.1:${grpc_port}:3001" \
    -e HOUSING_FEEDBACK_TOKEN="$token" "$image")"
cleanup() {
    status=$?
    if [ "$status" -ne 0 ]; then
        echo "container-smoke: FAILED; last container log lines:" >&2
        $engine logs --tail 60 "$container" >&2 || true
    fi
    $engine rm -f "$container" >/dev/null 2>&1 || true
    exit "$status"
}
trap cleanup EXIT

HOUSING_FEEDBACK_TOKEN="$token" $python -m delivery.smoke \
    --http "http://127.0.0.1:${http_port}" --grpc "127.0.0.1:${grpc_port}"
ready_seconds=$(( $(date +%s) - run_started ))

uid="$($engine exec "$container" id -u)"
if [ "$uid" = "0" ]; then
    echo "container-smoke: the service runs as root" >&2
    exit 1
fi
echo "ok  runs as uid $uid (non-root)"

$engine stop -t 20 "$container" >/dev/null
echo "container-smoke: passed in $(( $(date +%s) - started )) s" \
    "(image build ${build_seconds} s, start + checks ${ready_seconds} s)"
