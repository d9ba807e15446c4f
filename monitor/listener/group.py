"""Group commit: items that arrive within a few milliseconds share one transaction.

A commit costs a round trip and a WAL flush whatever it holds; many connections each
waiting for their own would spend most of the listener's time there. The first item of a
group waits at most `window_s` for company (or until `max_items` are waiting); one group
is committed at a time, and what arrives meanwhile forms the next. When every open
connection already has an item waiting (`company`), no one else can join before their ACKs
go out, so the group does not wait for the window: MLLP senders keep one message in flight.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    def __init__(self, commit: Callable[[Sequence[T]], Sequence[R]], *,
                 window_s: float = 0.005, max_items: int = 64,
                 company: Callable[[], int] | None = None) -> None:
        self._commit = commit  # blocking: runs in the loop's executor, one group at a time
        self.window_s, self.max_items = window_s, max_items
        self._company = company  # how many could be waiting at most (open connections)
        self._waiting: list[tuple[T, asyncio.Future[R], float]] = []  # (item, result, arrival)
        self._full = asyncio.Event()
        self._flusher: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        """Wait for the commit of the group `item` joins; its result for `item`."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        self._waiting.append((item, future, loop.time()))
        if len(self._waiting) >= self._enough():
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush())
        return await future

    def _enough(self) -> int:
        if self._company is None:
            return self.max_items
        return max(1, min(self.max_items, self._company()))

    async def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            delay = self._waiting[0][2] + self.window_s - loop.time()
            if delay > 0 and len(self._waiting) < self._enough():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._full.wait(), delay)
            group = self._waiting[: self.max_items]
            self._waiting = self._waiting[self.max_items:]
            self._full.clear()
            if len(self._waiting) >= self._enough():
                self._full.set()
            try:
                results = await loop.run_in_executor(None, self._commit, [i for i, *_ in group])
            except Exception as error:  # every item of the group learns of it
                for _, future, _ in group:
                    if not future.done():
                        future.set_exception(error)
                continue
            for (_, future, _), result in zip(group, results, strict=True):
                if not future.done():
                    future.set_result(result)
