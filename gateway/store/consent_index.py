"""Which (scope, number) pairs have live consent, in memory, for ``require_consent`` accounts.

The submit path cannot ask the store per message, so :class:`ConsentFollower` keeps a set up to date
by reading the event log in id order: a ``consent`` event adds the pair, an opt-out (any suppressing
event) removes it, as the store ends the consent itself. Replaying from id 0 at start-up rebuilds the
set; afterwards it polls, so a consent recorded by another process (``stopgate consent import``) or
by the admin API counts within ``interval`` seconds.
"""

from __future__ import annotations

import anyio
import anyio.abc
import structlog

from gateway.store.base import EventLog
from gateway.store.model import SUPPRESSING_TYPES, EventType, StoreError

log = structlog.get_logger("stopgate.consent")

_TYPES = (EventType.CONSENT, *sorted(SUPPRESSING_TYPES))
_PAGE = 10_000


class ConsentIndex:
    """The set of (scope, number) with live consent."""

    def __init__(self) -> None:
        self.live: set[tuple[str, str]] = set()

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self.live

    def __len__(self) -> int:
        return len(self.live)


class ConsentFollower:
    """Brings a :class:`ConsentIndex` up to date from the event log."""

    def __init__(self, log_: EventLog, index: ConsentIndex, *, interval: float = 0.5) -> None:
        self.events = log_
        self.index = index
        self.interval = interval
        self.after_id = 0

    async def catch_up(self) -> int:
        """Apply every relevant event after the cursor; how many were read."""
        read = 0
        while True:
            page = await self.events.events(after_id=self.after_id, types=_TYPES, limit=_PAGE)
            live = self.index.live
            for event in page:
                key = (event.scope, event.number)
                if event.type is EventType.CONSENT:
                    live.add(key)
                else:
                    live.discard(key)
                assert event.id is not None
                self.after_id = event.id
            read += len(page)
            if len(page) < _PAGE:
                return read

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        await self.catch_up()
        task_status.started()
        while True:
            await anyio.sleep(self.interval)
            try:
                await self.catch_up()
            except StoreError as exc:
                log.error("consent index not refreshed; will retry", error=str(exc))
