"""Rows written to the store off the message path, in batches: the first row after a write schedules
the next one :data:`FLUSH_DELAY` later, so a burst costs one transaction, not one per message.

Used for the footers sent (:mod:`.footers`) and the receipt routes (:mod:`.receipt_routes`), which
also keep the rows in memory: a failed write is logged and its rows dropped (memory still has them).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

import anyio

from gateway.store.model import StoreError

#: How long a batch gathers before it is written.
FLUSH_DELAY = 0.05

RowT = TypeVar("RowT")


class WriteBehind(Generic[RowT]):
    """Rows waiting for ``write``; at most ``limit`` (the oldest half dropped beyond: the store has been
    failing), written by a task ``spawn`` starts, or by :meth:`flush`."""

    def __init__(
        self,
        write: Callable[[list[RowT]], Awaitable[None]],
        spawn: Callable[..., None],
        log: Any,
        *,
        limit: int,
        failed: str,
    ) -> None:
        self.write = write
        self.spawn = spawn
        self.log = log
        self.limit = limit
        #: The warning logged when a write fails.
        self.failed = failed
        self._pending: list[RowT] = []
        self._flushing = False

    def add(self, row: RowT) -> None:
        """Queue ``row`` and make sure a write is scheduled (none when the engine is not running, as in an
        in-process benchmark: the row then waits for :meth:`flush`)."""
        pending = self._pending
        if len(pending) >= self.limit:
            del pending[: self.limit // 2]
        pending.append(row)
        if not self._flushing:
            try:
                self.spawn(self._flush_soon)
            except RuntimeError:
                return
            self._flushing = True

    async def _flush_soon(self) -> None:
        try:
            await anyio.sleep(FLUSH_DELAY)
            await self.flush()
        finally:
            self._flushing = False

    async def flush(self) -> None:
        """Write the rows queued since the last batch (logged and dropped if that fails)."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            await self.write(pending)
        except StoreError as exc:
            self.log.warning(self.failed, rows=len(pending), error=str(exc))
