"""The storage interfaces every backend implements (SQLite now, in-memory for tests, PostgreSQL later).

:class:`Store` is the whole of it, assembled from small protocols a consumer can ask for alone:
:class:`SuppressionWriter` (state changes), :class:`SuppressionReader` (current state),
:class:`EventLog` (the audit log), :class:`ChangeFeed` (state changes since a cursor) and
:class:`SentCounters` (report counters). Argument checks the backends share are in
:mod:`gateway.store.checks`; the column form of the model for SQL backends in :mod:`gateway.store.rows`.

Semantics shared by all backends:

* The event log is append-only and its ids increase strictly in commit order. It doubles as the
  change feed: a state-type event that actually changed a number's suppression state is a
  :class:`Change` whose id is the event id.
* ``opt_out`` / ``opt_in`` / ``append_events`` / ``import_suppressions`` are atomic and durable when
  they return. Any backend failure surfaces as :class:`StoreError`; misuse (wrong event type, an event
  that already has an id, a non-positive limit) raises :class:`ValueError` before touching storage.
* Time filters are half-open: ``since <= ts < until``. Pagination is keyset based (``after``,
  ``after_id``), so it stays cheap on millions of rows and never skips or repeats rows that existed
  for the whole walk.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from itertools import groupby
from operator import itemgetter
from types import TracebackType
from typing import Protocol, Self

from gateway.store.checks import check_limit
from gateway.store.model import Change, Channel, Event, EventType, Suppression

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


class ReceiptRoutes(Protocol):
    """Which account sent a message, by (upstream, SMSC message id): where its receipts go (issue 14)."""

    @abc.abstractmethod
    async def record_receipt_routes(self, rows: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        """Remember (upstream, message_id, account, session, expires_at); a later row replaces one
        with the same (upstream, message_id)."""

    @abc.abstractmethod
    async def receipt_route(self, upstream: str, message_id: str, now: datetime) -> tuple[str, str] | None:
        """(account, session) of ``message_id`` on ``upstream``, unless unknown or expired at ``now``."""

    @abc.abstractmethod
    async def purge_receipt_routes(self, now: datetime) -> int:
        """Forget the rows expired at ``now``; how many."""


class Store(
    SuppressionWriter, SuppressionReader, EventLog, ChangeFeed, SentCounters, ReceiptRoutes, Protocol
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
