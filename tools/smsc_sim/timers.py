"""A queue of items due at a time, served by one task: how the simulator sends delayed responses and
delivery receipts without starting a task (or a timer) per message."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

import anyio

__all__ = ["FifoTimer"]


class FifoTimer:
    """Items due at a time, served in insertion order by one task (the delays are constant)."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, Any]] = deque()
        self._wake: anyio.Event | None = None

    def push(self, due: float, item: Any) -> None:
        self.items.append((due, item))
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def run(self, handle: Callable[[Any], bool]) -> None:
        """Call ``handle(item)`` once each item is due; False means "not now", retried shortly."""
        items = self.items
        while True:
            if not items:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            now = anyio.current_time()
            handled = 0
            while items and handled < 512:
                due, item = items[0]
                if due > now:
                    break
                if not handle(item):
                    break
                items.popleft()
                handled += 1
            if not items:
                continue
            due = items[0][0]
            if due > now:
                await anyio.sleep(due - now)
            elif handled:
                await anyio.sleep(0)  # a long run of due items: let the links write
            else:
                await anyio.sleep(0.005)  # the head was refused (its session's window is full)
