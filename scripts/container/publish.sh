#!/usr/bin/env bash
# Push the image of a tested Bento with immutable tags: <registry>/<image>:<bento version>
# (model version + commit) and <registry>/<image>:sha-<commit>. A tag that already exists in the
# registry is never overwritten (the same tag must always mean the same image).
# Usage: scripts/container/publish.sh REGISTRY BENTO_TAG [BENTO_ARCHIVE]
set -euo pipefail
cd "$(dirname "$0")/../.."
registry="$1" bento="$2" archive="${3:-}"
engine="${CONTAINER_ENGINE:-docker}"
housing=.venv/bin/housing

if [ -n "$archive" ] && ! .venv/bin/bentoml get "$bento" >/dev/null 2>&1; then
    .venv/bin/bentoml import "$archive"
fi
commit="${GITHUB_SHA:-$(git rev-parse HEAD)}"
image_name="$($housing containerize "$bento" --backend "$engine" --registry "$registry" \
    --tag "${registry}/$(.venv/bin/python -c 'from housing.config import load_config; print(load_config().delivery.image)'):sha-${commit:0:12}" \
    | tail -n 2)"
for image in $image_name; do
    if $engine manifest inspect "$image" >/dev/null 2>&1; then
        echo "publish: $image already exists; immutable tags are not overwritten"
        continue
    fi
    $engine push "$image"
    echo "publish: pushed $image"
done
