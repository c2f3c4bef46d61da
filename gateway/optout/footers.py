"""``footer_mode = "first_in_days"``: the footer once per recipient per ``footer_days``, across restarts
and across every process on the store (issue 15).

The submit path asks memory only (:meth:`FooterMemory.due`, a dict look-up). What it decides is
written to the store in batches, off that path; at start the footers sent within the longest window
are loaded, and every ``interval`` the rows other processes wrote since are read back. A number that
gets two messages through two processes within about a batch delay plus ``interval`` may so get the
footer twice: never none.

Times are the wall clock (shared by the processes, and by a process and its successor).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
import anyio.abc

from gateway.store.base import Store
from gateway.store.guards import FOOTER_PAGE
from gateway.store.model import StoreError

from .bounded import BoundedMap
from .write_behind import WriteBehind

MAX_FOOTER_MEMORY = 1_000_000
#: How often the rows other processes wrote are read back.
FOLLOW_INTERVAL = 1.0
#: Each read starts this far before the latest time seen: a batch committed late, or written by a
#: host whose clock is a little behind, is still read.
OVERLAP = timedelta(seconds=5)
PURGE_EVERY = timedelta(hours=1)


def _at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class FooterMemory:
    """When each (scope, number) last got the footer (wall-clock seconds), in memory and in the store."""

    def __init__(
        self,
        store: Store,
        log: Any,
        spawn: Callable[..., None],
        window: Callable[[], float],
        *,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.log = log
        #: Seconds of the longest ``footer_days`` among the accounts that use it (0: none does).
        self.window = window
        self.wall = wall
        self.memory: BoundedMap = BoundedMap(MAX_FOOTER_MEMORY)
        self.batch: WriteBehind[tuple[str, str, datetime]] = WriteBehind(
            store.record_footers,
            spawn,
            log,
            limit=MAX_FOOTER_MEMORY,
            failed="footers sent not stored; kept in memory only",
        )
        self._seen = 0.0  # the latest time read from the store
        self._purged = 0.0

    def due(self, scope: str, number: str, days: int) -> bool:
        """True (and remembered) when (scope, number) last got the footer ``days`` or more ago."""
        now = self.wall()
        key = (scope, number)
        last = self.memory.get(key)
        if last is not None and now - last < days * 86400:
            return False
        self.memory[key] = now
        self.batch.add((scope, number, _at(now)))
        return True

    def _merge(self, rows: list[tuple[str, str, datetime]]) -> None:
        memory = self.memory
        for scope, number, at in rows:
            seconds = at.timestamp()
            key = (scope, number)
            last = memory.get(key)
            if last is None or last < seconds:
                memory[key] = seconds
            if seconds > self._seen:
                self._seen = seconds

    async def flush(self) -> None:
        """Write the footers decided since the last batch (kept in memory only if that fails)."""
        await self.batch.flush()

    async def load(self) -> int:
        """Read the footers sent within the window (at start); how many rows were read."""
        window = self.window()
        if window <= 0:
            return 0
        return await self._read_since(_at(self.wall() - window))

    async def follow(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Load, then read back what every process wrote, every :data:`FOLLOW_INTERVAL` (until
        cancelled); purge rows older than the window hourly."""
        try:
            await self.load()
        except StoreError as exc:
            self.log.warning("footers sent not loaded; footers may repeat", error=str(exc))
        task_status.started()
        while True:
            await anyio.sleep(FOLLOW_INTERVAL)
            window = self.window()
            if window <= 0:
                continue
            try:
                since = max(self._seen, self.wall() - window)
                await self._read_since(_at(since) - OVERLAP)
                now = self.wall()
                if now - self._purged >= PURGE_EVERY.total_seconds():
                    self._purged = now
                    await self.store.purge_footers(_at(now - window))
            except StoreError as exc:
                self.log.warning("footers sent not read", error=str(exc))

    async def _read_since(self, since: datetime) -> int:
        """Merge every row from ``since`` on; how many were read."""
        read = 0
        while True:
            rows = await self.store.footers_since(since, FOOTER_PAGE)
            self._merge(rows)
            read += len(rows)
            if len(rows) < FOOTER_PAGE:
                return read
            last = rows[-1][2]
            # The next page starts at the last time read (rows sharing it come again, harmlessly),
            # or just past it when a whole page shares one time.
            since = last if rows[0][2] != last else last + timedelta(microseconds=1)
