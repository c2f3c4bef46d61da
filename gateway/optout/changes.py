"""Recording an opt-out or an opt-in, the same way whoever asks: a subscriber's STOP (the engine), an
operator through the admin API, or one at the command line.

Each change is committed to the store first (durable before anyone is told), the commit timed into
``metrics.store_commit``, then applied to the in-memory suppression index at once (through the feed,
which would otherwise pick it up from the store on its next poll), and counted in
``metrics.optouts`` / ``metrics.optins`` by scope and channel when it changed something.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Protocol

from gateway.metrics import Metrics
from gateway.store.base import Store
from gateway.store.model import Event


class LocalChanges(Protocol):
    """Where a change committed here is applied at once (the change feed of the suppression index)."""

    async def apply_local(self, scope: str, number: str, suppressed: bool) -> None: ...


class OptoutChanges:
    """Commits opt-outs and opt-ins, then updates the index and the metrics.

    ``feed`` and ``metrics`` are optional: a command-line tool has neither (the running proxy's feed
    finds the change in the store). A failed commit raises the store's :class:`StoreError` and
    changes nothing else; the caller decides what the subscriber or operator is told. ``clock``
    times the commit (the engine passes its own).
    """

    def __init__(
        self,
        store: Store,
        feed: LocalChanges | None = None,
        metrics: Metrics | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.feed = feed
        self.metrics = metrics
        self.clock = clock

    async def opt_out(self, event: Event) -> bool:
        """Suppress ``event.number`` in ``event.scope``; True if it was not suppressed before."""
        return await self._change(event, True)

    async def opt_in(self, event: Event) -> bool:
        """Lift the suppression of ``event.number`` in ``event.scope``; True if there was one."""
        return await self._change(event, False)

    async def _change(self, event: Event, suppress: bool) -> bool:
        started = self.clock()
        changed = await (self.store.opt_out(event) if suppress else self.store.opt_in(event))
        metrics = self.metrics
        if metrics is not None:
            metrics.store_commit.observe(self.clock() - started)
        if self.feed is not None:
            # Even when nothing changed: the index may lag the store (a change from another process).
            await self.feed.apply_local(event.scope, event.number, suppress)
        if changed and metrics is not None:
            (metrics.optouts if suppress else metrics.optins).labels(event.scope, event.channel.value).inc()
        return changed
