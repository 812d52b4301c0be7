"""Adaptive batching shared by every protocol of a worker (HTTP and gRPC).

BentoML's own batching lives in its HTTP layer (``batchable=True`` APIs): a second protocol can
only reach it through an in-process HTTP round trip, it polls its queue every millisecond and it
answers 503 whenever its latency model predicts a miss. This queue is the same idea, made
callable from any coroutine of the worker: requests that arrive while the model is busy are
merged into the next model call (up to ``max_batch_size`` rows, never splitting a request), so
the batch size follows the load: 1 when idle, dozens under concurrency. A request that waited
longer than ``max_latency_ms`` before its batch started is refused as overloaded (HTTP 503,
gRPC UNAVAILABLE) instead of letting the queue grow without bound.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from serving.errors import Overloaded

Item = TypeVar("Item")
Result = TypeVar("Result")


@dataclass
class _Job(Generic[Item, Result]):
    items: Sequence[Item]
    future: asyncio.Future[list[Result]]
    enqueued: float = field(default_factory=time.monotonic)


class AdaptiveBatcher(Generic[Item, Result]):
    """Merge concurrent ``submit`` calls into batched calls of ``score`` (run in one thread).

    ``score`` receives the concatenated items of several requests and returns one result per
    item, in order. ``on_batch(rows)`` is called once per model call (the batch-size metric).
    Must be used from a single event loop (one per worker).
    """

    def __init__(
        self,
        score: Callable[[list[Item]], Sequence[Result]],
        *,
        max_batch_size: int,
        max_latency_s: float,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._score = score
        self._max_batch_size = max_batch_size
        self._max_latency_s = max_latency_s
        self._on_batch = on_batch or (lambda rows: None)
        self._queue: deque[_Job[Item, Result]] = deque()
        self._wakeup: asyncio.Event | None = None
        self._runner: asyncio.Task[None] | None = None
        # One thread: model calls never overlap, so a batch gets all numeric threads.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="model")

    async def submit(self, items: Sequence[Item]) -> list[Result]:
        """Score ``items`` (one request) as part of the next batch; results in input order."""
        if not items:
            return []
        loop = asyncio.get_running_loop()
        if self._runner is None or self._runner.done():
            self._wakeup = asyncio.Event()
            self._runner = loop.create_task(self._run(), name="adaptive-batcher")
        job: _Job[Item, Result] = _Job(items, loop.create_future())
        self._queue.append(job)
        assert self._wakeup is not None
        self._wakeup.set()
        return await job.future

    def _next_batch(self) -> list[_Job[Item, Result]]:
        """Jobs for one model call: all waiting ones up to max_batch_size rows (at least one)."""
        now = time.monotonic()
        batch: list[_Job[Item, Result]] = []
        rows = 0
        while self._queue:
            job = self._queue[0]
            if job.future.cancelled():  # the client went away
                self._queue.popleft()
                continue
            if now - job.enqueued > self._max_latency_s:
                self._queue.popleft()
                job.future.set_exception(
                    Overloaded("the service is overloaded: the request waited too long")
                )
                continue
            if batch and rows + len(job.items) > self._max_batch_size:
                break
            batch.append(self._queue.popleft())
            rows += len(job.items)
        return batch

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        assert self._wakeup is not None
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._next_batch()
                if not batch:
                    break
                merged = [item for job in batch for item in job.items]
                self._on_batch(len(merged))
                try:
                    results = await loop.run_in_executor(self._executor, self._score, merged)
                except Exception as exc:  # every waiting request learns why, none hangs
                    for job in batch:
                        if not job.future.done():
                            job.future.set_exception(exc)
                    continue
                offset = 0
                for job in batch:
                    part = list(results[offset : offset + len(job.items)])
                    offset += len(job.items)
                    if not job.future.done():
                        job.future.set_result(part)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
        self._executor.shutdown(wait=True)
