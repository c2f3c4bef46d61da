"""The storage interfaces every backend implements (SQLite, PostgreSQL, in-memory for tests).

:class:`Store` is the whole of it, assembled from small protocols a consumer can ask for alone:
:class:`SuppressionWriter` (state changes), :class:`SuppressionReader` (current state),
:class:`EventLog` (the audit log), :class:`ChangeFeed` (state changes since a cursor) and
:class:`SentCounters` (report counters) and :class:`Aggregates` (counts for the console).
Argument checks the backends share are in
:mod:`gateway.store.checks`; the column form of the model for SQL backends in :mod:`gateway.store.rows`.

Semantics shared by all backends:

* The event log is append-only. It doubles as the change feed: a state-type event that actually
  changed a number's suppression state is a :class:`Change`. On SQLite event ids increase strictly in
  commit order; on PostgreSQL ids are taken at insert, not at commit, and the feed is ordered by
  the writing transaction instead (:mod:`gateway.store.postgres.reads`), so a late commit never falls
  behind a cursor. Either way a :class:`Change`'s id is its event id and the cursor of the feed.
* ``opt_out`` / ``opt_in`` / ``append_events`` / ``import_suppressions`` are atomic and durable when
  they return. Any backend failure surfaces as :class:`StoreError`; misuse (wrong event type, an event
  that already has an id, a non-positive limit) raises :class:`ValueError` before touching storage.
* Time filters are half-open: ``since <= ts < until``. Pagination is keyset based (``after``,
  ``after_id``), so it stays cheap on millions of rows and never skips or repeats rows that existed
  for the whole walk.
"""

from __future__ import annotations

import abc
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, time
from itertools import groupby
from operator import itemgetter
from types import TracebackType
from typing import Protocol, Self

import anyio

from gateway.store.checks import check_limit
from gateway.store.model import (
    Change,
    Channel,
    DayCount,
    Event,
    EventType,
    Suppression,
    Total,
    TotalBy,
)
from gateway.store.routing import ReceiptRoutes
from gateway.store.selfservice import ConsentRecords, Erasure, WebhookOutbox, WebTokens

#: Rows per round trip used by the default streaming implementations.
PAGE_SIZE = 1000


class SuppressionWriter(Protocol):
    """State changes: opt-outs, opt-ins, stateless events and bulk imports, durable on return."""

    @abc.abstractmethod
    async def opt_out(self, event: Event) -> bool:
        """Append ``event`` and suppress (scope, number); True if it was not suppressed before.

        ``event.type`` must be OPT_OUT, ADMIN_ADD or IMPORT. The event is logged even when the
        number was already suppressed (the log is the audit trail); only a real change enters the
        change feed. Committed (durable) when this returns.
        """

    @abc.abstractmethod
    async def opt_in(self, event: Event) -> bool:
        """Append ``event`` and lift the suppression; True if the number was suppressed.

        ``event.type`` must be OPT_IN or ADMIN_REMOVE. Committed when this returns.
        """

    @abc.abstractmethod
    async def append_events(self, events: Sequence[Event]) -> None:
        """Append stateless events (HELP, BLOCKED, CONFIRMATION_SENT) in one transaction."""

    @abc.abstractmethod
    async def import_suppressions(
        self,
        rows: Iterable[tuple[str, str]],
        *,
        channel: Channel,
        reason: str | None,
        operator: str | None = None,
    ) -> int:
        """Suppress every (scope, number) in ``rows`` in one atomic transaction.

        Only numbers that were not yet suppressed get a suppression and an IMPORT event, so
        importing the same file twice changes nothing the second time. Returns how many numbers
        became suppressed. ``operator`` is recorded on each event (who ran the import).
        ``rows`` may be a lazy iterable (a file being parsed); backends may
        consume it on a worker thread.
        """


class SuppressionReader(Protocol):
    """The current suppressions: single look-ups, pages, and the bulk load of the index."""

    @abc.abstractmethod
    async def get_suppression(self, scope: str, number: str) -> Suppression | None:
        """The suppression of (scope, number), or None."""

    @abc.abstractmethod
    async def list_suppressions(
        self,
        scope: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Suppression]:
        """One page ordered by (scope, number); pass the last row's (scope, number) as ``after``."""

    async def iter_suppressions(self, scope: str | None = None) -> AsyncIterator[Suppression]:
        """Every suppression (of ``scope``) in (scope, number) order, streamed page by page.

        Pages are read in separate short transactions, so a concurrent change may or may not be
        reflected; rows that exist throughout the walk are returned exactly once.
        """
        after: tuple[str, str] | None = None
        while True:
            page = await self.list_suppressions(scope, after, PAGE_SIZE)
            for row in page:
                yield row
            if len(page) < PAGE_SIZE:
                return
            after = (page[-1].scope, page[-1].number)

    async def load_suppressions(self, batch: int = 100_000) -> AsyncIterator[list[tuple[str, str]]]:
        """All (scope, number) pairs in (scope, number) order, ``batch`` at a time.

        The start-up path of :func:`gateway.store.index.build_index`; backends override it with a
        lean query selecting only the two key columns.
        """
        check_limit(batch)
        after: tuple[str, str] | None = None
        while True:
            page = await self.list_suppressions(None, after, batch)
            if page:
                yield [(row.scope, row.number) for row in page]
            if len(page) < batch:
                return
            after = (page[-1].scope, page[-1].number)

    async def load_numbers(self, batch: int = 100_000) -> AsyncIterator[tuple[str, list[str]]]:
        """All suppressed numbers as (scope, numbers) chunks of at most ``batch`` numbers.

        Scopes come in ascending order and numbers ascending within a scope (string order). The
        same content as :meth:`load_suppressions` without a tuple and a scope string per row,
        which is what lets :func:`gateway.store.index.build_index` load 10,000,000 rows in
        seconds. This default regroups :meth:`load_suppressions`; backends may do better.
        """
        async for pairs in self.load_suppressions(batch):
            for scope, group in groupby(pairs, key=itemgetter(0)):
                yield scope, [number for _, number in group]


class EventLog(Protocol):
    """The append-only audit log, filtered and paged by id."""

    @abc.abstractmethod
    async def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        number: str | None = None,
        types: Sequence[EventType] | None = None,
        scope: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        """Events matching every given filter, ordered by id.

        ``since <= ts < until``; ``types=None`` means any type (an empty sequence matches nothing);
        only ids greater than ``after_id``; at most ``limit`` rows (None: no limit).
        """

    async def iter_events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        number: str | None = None,
        types: Sequence[EventType] | None = None,
        scope: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> AsyncIterator[Event]:
        """:meth:`events` streamed page by page (for exports); ``limit`` caps the total."""
        if limit is not None:
            check_limit(limit)
        remaining = limit
        while remaining is None or remaining > 0:
            page_size = PAGE_SIZE if remaining is None else min(PAGE_SIZE, remaining)
            page = await self.events(
                since=since,
                until=until,
                number=number,
                types=types,
                scope=scope,
                after_id=after_id,
                limit=page_size,
            )
            for event in page:
                yield event
            if len(page) < page_size:
                return
            last_id = page[-1].id
            assert last_id is not None
            after_id = last_id
            if remaining is not None:
                remaining -= len(page)

    async def history(self, scope: str, number: str) -> list[Event]:
        """Every event about ``number`` in ``scope``, oldest first."""
        return await self.events(scope=scope, number=number)


class ChangeFeed(Protocol):
    """Suppression state changes in commit order, read from a cursor (the event id)."""

    @abc.abstractmethod
    async def changes_since(self, after_id: int, limit: int = 10_000) -> list[Change]:
        """Suppression state changes with id > ``after_id``, in id order, at most ``limit``.

        Replaying the feed in order from any point reproduces the current state for every number
        it mentions; consumers must be idempotent (an add of a present number is harmless).
        """

    @abc.abstractmethod
    async def last_change_id(self) -> int:
        """The id of the newest change (0 if none): a cursor for :meth:`changes_since`."""

    async def commit_mark(self) -> int:
        """A mark above every change committed before this call (see :meth:`settled_mark`); on
        PostgreSQL the snapshot's xmax, which is above every committed xid.

        0 for backends whose changes are in the feed as soon as they commit (SQLite, memory).
        """
        return 0

    async def settled_mark(self) -> int:
        """Once this reaches a :meth:`commit_mark`, every change committed before that mark is
        returned by any later :meth:`changes_since` (PostgreSQL holds a committed change back while
        an older transaction is still open). 0 where :meth:`commit_mark` is always 0."""
        return 0

    async def wait_for_change(self, timeout: float) -> None:
        """Return when a change may have been committed, or after ``timeout`` seconds at most.

        A wake-up hint only (followers read :meth:`changes_since` after it either way): this default
        just sleeps; PostgreSQL returns early on NOTIFY.
        """
        await anyio.sleep(timeout)


class SentCounters(Protocol):
    """Per-day sent counts and the last campaign per number, for reports and attribution."""

    @abc.abstractmethod
    async def add_sent_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Add ``counts`` keyed (day "YYYY-MM-DD", scope, campaign) to the stored totals."""

    @abc.abstractmethod
    async def record_last_campaigns(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        """Remember the last campaign sent to each (scope, number, campaign, ts).

        An older ``ts`` never overwrites a newer one, so out-of-order flushes are harmless.
        """

    @abc.abstractmethod
    async def last_campaign(self, scope: str, number: str) -> str | None:
        """The campaign most recently recorded for (scope, number)."""

    @abc.abstractmethod
    async def sent_counts(
        self, since_day: str | None = None, scope: str | None = None
    ) -> list[tuple[str, str, str, int]]:
        """(day, scope, campaign, count) with day >= ``since_day``, ordered by day, scope, campaign."""


class Aggregates(EventLog, ChangeFeed, SentCounters, SuppressionReader, Protocol):
    """Counts for the console's overview, by UTC day.

    A backend for big stores keeps them as events are written (SQLite: triggers, migration 0007),
    so reading them costs the number of days, not the number of events. These defaults scan the
    log and the change feed instead: correct, but only for small stores (the in-memory one). They
    attribute an opt-out without a campaign to the campaign last sent to the number *now*, where a
    maintained count uses the one recorded when the opt-out was written.
    """

    async def daily_counts(self, since: date, scope: str | None = None) -> list[DayCount]:
        """Per (day, type) counts for days on or after ``since``, ordered by day then type."""
        per_day: Counter[tuple[date, EventType]] = Counter()
        changed: Counter[tuple[date, EventType]] = Counter()
        async for event, change, _ in self._counted(since, scope):
            key = (event.ts.date(), event.type)
            per_day[key] += 1
            changed[key] += change
        return [DayCount(day, type_, n, changed[(day, type_)]) for (day, type_), n in sorted(per_day.items())]

    async def totals(self, by: TotalBy, since: date, scope: str | None = None) -> list[Total]:
        """Counts over the days on or after ``since`` per (scope, type, ``by``).

        ``by="channel"`` counts every event; ``"keyword"`` and ``"campaign"`` count opt-outs
        (type OPT_OUT) only, an opt-out without a campaign under the campaign last sent to the number.
        """
        totals: Counter[tuple[str, EventType, str | None]] = Counter()
        changed: Counter[tuple[str, EventType, str | None]] = Counter()
        async for event, change, campaign in self._counted(since, scope):
            if by == "channel":
                value: str | None = event.channel.value
            elif event.type is not EventType.OPT_OUT:
                continue
            else:
                value = event.keyword if by == "keyword" else campaign
            key = (event.scope, event.type, value)
            totals[key] += 1
            changed[key] += change
        return [Total(*key, events=n, changes=changed[key]) for key, n in totals.items()]

    async def sent_totals(self, since_day: str, scope: str | None = None) -> list[tuple[str, str, int]]:
        """(scope, campaign, messages sent) summed over the days on or after ``since_day``."""
        sums: Counter[tuple[str, str]] = Counter()
        for _day, sc, campaign, n in await self.sent_counts(since_day, scope):
            sums[(sc, campaign)] += n
        return [(sc, campaign, n) for (sc, campaign), n in sorted(sums.items())]

    async def suppression_count(self, scope: str | None = None) -> int:
        """How many numbers are suppressed (in ``scope``) now."""
        count = 0
        async for chunk_scope, numbers in self.load_numbers():
            if scope is None or chunk_scope == scope:
                count += len(numbers)
        return count

    async def event_id_bounds(self, since: date, until: date) -> tuple[int, int] | None:
        """The smallest and largest id of the events of the days ``since <= day < until`` (None: none).

        An export of that period reads only this id range of the log, not the log from its start.
        """
        ids = [
            event.id
            async for event in self.iter_events(since=_midnight(since), until=_midnight(until))
            if event.id is not None
        ]
        return (min(ids), max(ids)) if ids else None

    async def _counted(
        self, since: date, scope: str | None
    ) -> AsyncIterator[tuple[Event, bool, str | None]]:
        """Each event since ``since``, whether it changed a number's state, and its campaign."""
        changes: set[int] = set()
        after = 0
        while page := await self.changes_since(after, 10_000):
            changes.update(change.id for change in page)
            after = page[-1].id
        async for event in self.iter_events(since=_midnight(since), scope=scope):
            campaign = event.campaign
            if campaign is None and event.type is EventType.OPT_OUT:
                campaign = await self.last_campaign(event.scope, event.number)
            yield event, event.id in changes, campaign


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


class Store(
    SuppressionWriter,
    Aggregates,
    ReceiptRoutes,
    ConsentRecords,
    Erasure,
    WebhookOutbox,
    WebTokens,
    Protocol,
):
    """Durable opt-out state plus its audit log, behind a small async API."""

    @abc.abstractmethod
    async def open(self) -> None:
        """Connect / create / migrate. Calling it on an open store is a no-op."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Release resources. Idempotent; later calls raise :class:`StoreClosedError`."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abc.abstractmethod
    async def check_writable(self) -> None:
        """Raise :class:`StoreError` unless a write could be committed right now (for /readyz)."""
