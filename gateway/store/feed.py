"""Keeping the in-memory suppression index in step with the store's change feed.

Every change, local or from another process (the CLI, the admin API, another proxy), reaches the index
through :meth:`ChangeFollower.sync`, which fetches and applies under one lock. A local opt-out calls
``sync`` right after its commit and before its deliver_sm_resp, so the index holds it before the SMSC
hears it was received, and an older batch fetched concurrently can never be applied after it.

On PostgreSQL the feed holds a committed change back while an older transaction is still open (it
never skips one, :mod:`gateway.store.postgres.reads`), so a local opt-out may not be in the feed yet
when ``sync`` returns: it is then *pinned* in the index until the feed has settled past its commit
(:meth:`~gateway.store.base.ChangeFeed.settled_mark`), whatever the feed delivered meanwhile.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable

import anyio
import structlog

from gateway.store.base import ChangeFeed
from gateway.store.index import SuppressionIndex
from gateway.store.model import Change, StoreError

log = structlog.get_logger("stopgate.feed")


class ChangeFollower:
    def __init__(
        self,
        store: ChangeFeed,
        index: SuppressionIndex,
        *,
        after_id: int,
        interval: float = 0.25,
        batch: int = 10_000,
        on_health: Callable[[bool], object] | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.after_id = after_id
        self.interval = interval
        self.batch = batch
        self.on_health = on_health
        self._lock = anyio.Lock()
        #: Local opt-outs committed but maybe not yet delivered by the feed: kept in the index until
        #: the feed settles past their commit mark. The bool is the state the feed itself gives.
        self._pinned: dict[tuple[str, str], tuple[int, bool]] = {}
        #: (time, commit mark) taken at each sync start, until the feed settles past the mark.
        self._marks: deque[tuple[float, int]] = deque(maxlen=4096)
        #: Every change committed before this moment (anyio clock) is in the index; None: not yet.
        self.current_as_of: float | None = None

    def lag(self) -> float:
        """Seconds the index may be behind the store (inf before the first complete sync).

        It grows while the store is unreachable and, on PostgreSQL, while an open transaction holds
        the feed back: either way this process may not know of an opt-out made elsewhere, which is
        what a fail-closed check (``optout.max_feed_lag``) compares against.
        """
        if self.current_as_of is None:
            return math.inf
        return anyio.current_time() - self.current_as_of

    async def sync(self) -> int:
        """Fetch and apply every change committed so far; returns how many were applied."""
        applied = 0
        async with self._lock:
            self._marks.append((anyio.current_time(), await self.store.commit_mark()))
            settled = await self.store.settled_mark()
            while True:
                changes = await self.store.changes_since(self.after_id, self.batch)
                if changes:
                    self.index.apply(changes)
                    self.after_id = changes[-1].id
                    if self._pinned:
                        self._reassert_pins(changes)
                    applied += len(changes)
                if len(changes) < self.batch:
                    break
                await anyio.lowlevel.checkpoint()
            while self._marks and self._marks[0][1] <= settled:
                self.current_as_of = self._marks.popleft()[0]
            # Everything committed before ``settled`` has now been applied: those pins are done,
            # and the index takes the feed's word for their numbers again.
            for key, (mark, in_feed) in list(self._pinned.items()):
                if mark <= settled:
                    del self._pinned[key]
                    if not in_feed:
                        self.index.remove(*key)
            return applied

    def _reassert_pins(self, changes: list[Change]) -> None:
        for change in changes:
            key = (change.scope, change.number)
            if key in self._pinned:
                self._pinned[key] = (self._pinned[key][0], change.suppressed)
        for scope, number in self._pinned:
            self.index.add(scope, number)

    async def apply_local(self, scope: str, number: str, suppressed: bool) -> None:
        """After a local commit: bring the index up to date, falling back to a direct update."""
        try:
            await self.sync()
            async with self._lock:
                if not suppressed:
                    # An opt-in not yet in the feed leaves the number blocked a moment longer (the
                    # safe side); only a pin of an earlier local opt-out must not outlive it.
                    self._pinned.pop((scope, number), None)
                elif not self.index.contains(scope, number):
                    self._pinned[scope, number] = (await self.store.commit_mark(), False)
                    self.index.add(scope, number)
        except StoreError as exc:
            log.warning("change feed unavailable; updating the index directly", error=str(exc))
            async with self._lock:
                if suppressed:
                    self.index.add(scope, number)
                else:
                    self.index.remove(scope, number)

    async def hold_unrecorded(self, scope: str, number: str) -> None:
        """An opt-out the store could not commit: block the number in memory anyway.

        The SMSC was told to redeliver (a temporary error); until that commit succeeds the number is
        kept out of reach from memory (lost on a restart, when the redelivered STOP records it).
        """
        async with self._lock:
            self.index.add(scope, number)

    async def run(self) -> None:
        """Poll forever (cancel to stop). Store failures are logged; the index keeps its state."""
        healthy = True
        while True:
            try:
                await self.sync()
                if not healthy:
                    log.info("change feed recovered")
                healthy = True
            except StoreError as exc:
                if healthy:
                    log.warning("change feed poll failed", error=str(exc))
                healthy = False
            if self.on_health is not None:
                self.on_health(healthy)
            # NOTIFY wakes a PostgreSQL follower early; polling every interval is the fallback.
            try:
                await self.store.wait_for_change(self.interval)
            except StoreError:
                await anyio.sleep(self.interval)

    async def watch(
        self, max_lag: float, on_blind: Callable[[bool], object], *, every: float | None = None
    ) -> None:
        """Tell ``on_blind`` when :meth:`lag` goes over ``max_lag`` and when it is back under (forever).

        This runs beside the feed rather than in it: a poll stuck on an unreachable server must not
        stop the clock. Checked every ``max_lag / 10`` (at most 0.5 s), so a process is known blind
        at most that late; the submit path only reads the flag this sets.
        """
        period = every if every is not None else min(0.5, max_lag / 10)
        blind = False
        while True:
            lag = self.lag()
            now_blind = lag > max_lag
            if now_blind != blind:
                blind = now_blind
                if blind:
                    log.warning("change feed behind: refusing marketing", lag=round(lag, 3), max_lag=max_lag)
                else:
                    log.info("change feed caught up: marketing accepted again", lag=round(lag, 3))
                on_blind(blind)
            await anyio.sleep(period)

