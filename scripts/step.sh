#!/usr/bin/env bash
# Run one long step of a make target and say what it is and how long it took:
#   scripts/step.sh "installing the locked environment" uv sync --frozen
# prints "==> <what>" first and "<== done in N s" (or "<== FAILED after N s") last, so a quiet
# minute (bytecode compilation, a first download) is never mistaken for a hang.
set -uo pipefail
what="$1"
shift
echo "==> $what" >&2
started=$(date +%s)
"$@"
status=$?
elapsed=$(( $(date +%s) - started ))
if [ "$status" -eq 0 ]; then
    echo "<== done in ${elapsed} s" >&2
else
    echo "<== FAILED after ${elapsed} s (exit code $status)" >&2
fi
exit "$status"
