"""Each worker's write-ahead journal of answered predictions: segment files on local disk.

A worker appends each model batch's rows to its open segment with one ``write`` (one JSON line
per batch) before any answer of that batch is sent. A ``write`` that returned is in the page
cache, so it survives a kill -9 of the worker or of the whole server; with ``journal_fsync`` it
is also on the device (survives power loss) at the cost of one fsync per batch.

Files in the journal directory (``storage.spool_dir``), for a worker ``owner`` (pid + random):

* ``<name>-<owner>.lock``: held with ``flock`` for the worker's life. The kernel releases it
  when the process dies, however it dies: a lock that can be taken belongs to a dead worker.
* ``<name>-<owner>-<sequence>.jsonl``: segments. The writer seals the open segment, moves its
  rows to the database and deletes it; a sealed segment the database refused stays until a
  retry succeeds (this is also the spool of a database outage).

Leftovers of dead workers (a killed worker, a whole server killed) are claimed by taking their
lock and replayed by whichever worker comes first: the replacement worker at start-up, or any
live worker on its next retry. The database ignores rows whose prediction id it already has, so
replaying a segment whose rows were partly or wholly written never duplicates a row.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic_core import to_json

logger = logging.getLogger(__name__)

SEGMENT_SUFFIX = ".jsonl"
LOCK_SUFFIX = ".lock"
_DATETIME_FIELDS = ("created_at",)
_SEQUENCE_DIGITS = 10
_OWNER_TOKEN_BYTES = 4
# Size of the write that checks whether a journal that failed can take rows again: about one
# batch of 64 answered rows (~400 bytes each).
PROBE_BYTES = 32 * 1024


@dataclass(frozen=True)
class Segment:
    """A sealed segment: its file and the rows it holds."""

    path: Path
    rows: int
    oldest: float  # wall-clock time of its first row (for the replay-lag metric)


def encode_batch(rows: Sequence[dict[str, Any]]) -> bytes:
    """One journal line for a batch (pydantic-core's encoder: datetimes as ISO 8601)."""
    return to_json(list(rows)) + b"\n"


def decode_segment(path: Path) -> list[dict[str, Any]]:
    """The rows of a segment file; a torn last line (a failed append) is skipped.

    A line is a batch (a JSON list of rows); a line holding a single row (a spool file of an
    older version) is read as a batch of one.
    """
    rows: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                document = json.loads(line)
            except ValueError:
                logger.warning("prediction journal: skipping a torn line in %s", path.name)
                continue
            for row in document if isinstance(document, list) else [document]:
                for name in _DATETIME_FIELDS:
                    if isinstance(row.get(name), str):
                        row[name] = datetime.fromisoformat(row[name])
                rows.append(row)
    return rows


class Journal:
    """The journal of one worker (``open`` once, then ``append``/``seal`` from any thread)."""

    def __init__(self, directory: Path, name: str, *, fsync: bool, min_free_bytes: int = 0) -> None:
        self.directory = directory
        self._name = name
        self._fsync = fsync
        self._min_free_bytes = min_free_bytes
        self.owner = f"{os.getpid()}_{secrets.token_hex(_OWNER_TOKEN_BYTES)}"
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._size = 0
        self._rows = 0
        self._oldest = 0.0
        self._sequence = 0

    # ------------------------------------------------------------------ own segments

    def open(self) -> Journal:
        """Create the directory and take this worker's lock (fails loudly if impossible)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lock_path(self.owner), os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._lock_fd = fd
        return self

    def append(self, data: bytes, rows: int, now: float) -> None:
        """Append one encoded batch with one write; raises OSError (nothing half-written)."""
        with self._lock:
            if self._fd is None:
                self._sequence += 1
                self._path = self._segment_path(self.owner, self._sequence)
                self._fd = os.open(self._path, os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o644)
                self._size = 0
            offset = self._size
            try:
                written = os.write(self._fd, data)
                if written != len(data):
                    raise OSError(28, "No space left on device (short write to the journal)")
                if self._fsync:
                    os.fdatasync(self._fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, offset)  # a reader never sees half a batch
                raise
            self._size += len(data)
            if self._rows == 0:
                self._oldest = now
            self._rows += rows

    def seal(self) -> Segment | None:
        """Close the open segment (the next append opens a new one); None if it is empty."""
        with self._lock:
            if self._fd is None or self._path is None:
                return None
            os.close(self._fd)
            segment = Segment(self._path, self._rows, self._oldest)
            self._fd, self._path, self._size, self._rows = None, None, 0, 0
            if segment.rows == 0:
                segment.path.unlink(missing_ok=True)
                return None
            return segment

    def write_sealed(self, data: bytes, rows: int, now: float) -> Segment:
        """A sealed segment written in one go and fsync'd (rows that were only in memory)."""
        with self._lock:
            self._sequence += 1
            path = self._segment_path(self.owner, self._sequence)
        try:
            with path.open("wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        except OSError:
            path.unlink(missing_ok=True)
            raise
        return Segment(path, rows, now)

    def probe(self) -> None:
        """Raise OSError unless a batch-sized write to the journal directory succeeds and the
        file system keeps ``min_free_bytes`` free.

        The free-space floor matters on a disk that is full but churns: a worker trimming a
        segment frees a few pages, and a probe that fits in them turned readiness back on for
        a moment while every real batch still failed (seen in the full-disk test).
        """
        stats = os.statvfs(self.directory)
        free = stats.f_bavail * stats.f_frsize
        if free < self._min_free_bytes:
            raise OSError(errno.ENOSPC, f"{free} bytes free, below {self._min_free_bytes}")
        path = self.directory / f".probe-{self.owner}"
        try:
            fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
            try:
                if os.write(fd, b"\0" * PROBE_BYTES) != PROBE_BYTES:
                    raise OSError(28, "No space left on device (short write)")
            finally:
                os.close(fd)
        finally:
            with contextlib.suppress(OSError):
                path.unlink()

    def close(self, *, keep_lock_file: bool) -> None:
        """Release the lock; its file stays when sealed segments still wait for the database."""
        self.seal()
        if self._lock_fd is not None:
            if not keep_lock_file:
                self._lock_path(self.owner).unlink(missing_ok=True)
            os.close(self._lock_fd)
            self._lock_fd = None

    # ------------------------------------------------------------------ leftovers

    def replay_orphans(self, store: Callable[[list[dict[str, Any]]], bool]) -> int:
        """Move the segments of dead workers into the database; the number of rows moved.

        Stops at the first segment ``store`` refuses (it stays for the next attempt).
        """
        moved = 0
        for owner in self._other_owners():
            lock_path = self._lock_path(owner)
            try:
                fd = os.open(lock_path, os.O_CREAT | os.O_RDWR, 0o644)
            except OSError:
                continue
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # its worker is alive, or another worker is replaying it
                for path in self._segments_of(owner):
                    rows = decode_segment(path)
                    if rows and not store(rows):
                        return moved
                    path.unlink(missing_ok=True)
                    moved += len(rows)
                    logger.info("prediction journal: replayed %d rows of %s", len(rows), path.name)
                lock_path.unlink(missing_ok=True)
            finally:
                os.close(fd)
        return moved

    # ------------------------------------------------------------------ file names

    def _lock_path(self, owner: str) -> Path:
        return self.directory / f"{self._name}-{owner}{LOCK_SUFFIX}"

    def _segment_path(self, owner: str, sequence: int) -> Path:
        return (
            self.directory / f"{self._name}-{owner}-{sequence:0{_SEQUENCE_DIGITS}d}{SEGMENT_SUFFIX}"
        )

    def _segments_of(self, owner: str) -> list[Path]:
        prefix = f"{self._name}-{owner}-"
        return sorted(
            path
            for path in self.directory.glob(f"{prefix}*{SEGMENT_SUFFIX}")
            if "-" not in path.name[len(prefix) : -len(SEGMENT_SUFFIX)]
        )

    def _other_owners(self) -> Iterator[str]:
        owners: set[str] = set()
        prefix = f"{self._name}-"
        for path in self.directory.glob(f"{prefix}*{LOCK_SUFFIX}"):
            owners.add(path.name[len(prefix) : -len(LOCK_SUFFIX)])
        for path in self.directory.glob(f"{prefix}*{SEGMENT_SUFFIX}"):
            owners.add(path.name[len(prefix) : -len(SEGMENT_SUFFIX)].rsplit("-", 1)[0])
        owners.discard(self.owner)
        yield from sorted(owners)
