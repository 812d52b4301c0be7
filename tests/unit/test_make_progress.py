"""`make serve` and `make install` say what each long step is doing and how long it took.

A fresh clone spends a minute or more compiling bytecode after uv's last line: without an
announcement that looks like a hang. ``scripts/step.sh`` frames such a step.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
STEP = ROOT / "scripts" / "step.sh"


def _step(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(STEP), "compiling things", *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_step_is_announced_before_and_timed_after() -> None:
    result = _step("bash", "-c", "sleep 1; echo working")
    assert result.returncode == 0
    assert result.stdout == "working\n"
    lines = result.stderr.splitlines()
    assert lines[0] == "==> compiling things"
    assert re.fullmatch(r"<== done in [12] s", lines[-1])


def test_a_failing_step_says_so_and_keeps_its_exit_code() -> None:
    result = _step("bash", "-c", "exit 7")
    assert result.returncode == 7
    assert result.stderr.splitlines()[-1] == "<== FAILED after 0 s (exit code 7)"


def test_make_install_and_serve_announce_their_long_steps() -> None:
    dry = subprocess.run(
        ["make", "-n", "serve"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    dry = re.sub(r"\\\n\s*", "", dry)  # the shell joins continued lines, inside quotes too
    assert re.search(r"scripts/step\.sh \"installing the locked environment.*compiles", dry)
    assert "==> serving: trains a first champion if the registry has none" in dry
    assert "answers once /readyz is 200" in dry
