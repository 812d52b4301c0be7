"""Which commit produced an artifact: recorded on MLflow runs and on Bento labels and tags.

A dirty working tree counts as dirty (the artifact may hold uncommitted code), and so does a
checkout git cannot read, so a Bento tag derived from it is never reused for unknown content.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

GIT_TIMEOUT_S = 10


@dataclass(frozen=True)
class GitState:
    commit: str
    dirty: bool


def _git(root: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=GIT_TIMEOUT_S,
        check=True,
    ).stdout.strip()


def git_state(root: Path) -> GitState:
    """Commit and dirtiness of the checkout at ``root`` (``unknown``/dirty outside git)."""
    try:
        commit = _git(root, "rev-parse", "HEAD")
        status = _git(root, "status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return GitState(commit="unknown", dirty=True)
    return GitState(commit=commit, dirty=bool(status))
