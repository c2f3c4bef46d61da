""":class:`SQLiteStore`: the embedded default :class:`Store`, one SQLite file, fsync on every commit.

Durability: ``synchronous=FULL`` in WAL mode fsyncs the log on every commit, so an opt-out that
:meth:`SQLiteStore.opt_out` returned for survives ``kill -9`` and power loss. Several processes may
share the file (the CLI while the proxy runs); writers wait up to ``busy_timeout`` for each other
and then fail with :class:`StoreError`.

This class checks arguments and frames transactions; :mod:`.connection` owns the connections and
the write lock, :mod:`.writes` and :mod:`.bulk_import` the bodies of write transactions,
:mod:`.reads` the queries.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import date, datetime
from itertools import repeat
from pathlib import Path

from gateway.store.base import Store
from gateway.store.checks import (
    check_limit,
    check_stateless,
    check_suppressing,
    check_unsuppressing,
)
from gateway.store.model import (
    Change,
    Channel,
    Consent,
    DayCount,
    DeadLetter,
    Event,
    EventType,
    Suppression,
    Total,
    TotalBy,
    WebhookState,
    WebToken,
)
from gateway.store.rows import to_micros
from gateway.store.sqlite import consents, outbox, reads, writes
from gateway.store.sqlite.bulk_import import import_suppressions
from gateway.store.sqlite.connection import Database, checked_pragmas


class SQLiteStore(Store):
    """:class:`Store` on one SQLite file (created 0600, WAL, ``synchronous=FULL``).

    ``pragmas`` are applied to every connection after migrations (tuning such as ``cache_size``;
    tests use ``query_only`` and ``max_page_count`` to simulate a read-only or full disk).
    ``open()`` raises :class:`StoreError` naming the path and the reason when the file cannot be
    opened, migrated or switched to WAL (``":memory:"`` is refused: the store needs a file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        pragmas: Mapping[str, int | str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.db = Database(self.path, busy_timeout, checked_pragmas(pragmas))

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    # -- state changes -------------------------------------------------------------------------

    async def opt_out(self, event: Event) -> bool:
        check_suppressing(event)
        async with self.db.transaction("opt-out") as conn:
            return await writes.opt_out(conn, event)

    async def opt_in(self, event: Event) -> bool:
        check_unsuppressing(event)
        async with self.db.transaction("opt-in") as conn:
            return await writes.opt_in(conn, event)

    async def append_events(self, events: Sequence[Event]) -> None:
        check_stateless(events)
        if not events:
            return
        async with self.db.transaction("appending events") as conn:
            await writes.append_events(conn, events)

    async def import_suppressions(
        self,
        rows: Iterable[tuple[str, str]],
        *,
        channel: Channel,
        reason: str | None,
        operator: str | None = None,
    ) -> int:
        return await import_suppressions(
            self.db, rows, channel=Channel(channel), reason=reason, operator=operator
        )

    # -- suppressions --------------------------------------------------------------------------

    async def get_suppression(self, scope: str, number: str) -> Suppression | None:
        return await reads.get_suppression(self.db, scope, number)

    async def list_suppressions(
        self,
        scope: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Suppression]:
        check_limit(limit)
        return await reads.list_suppressions(self.db, scope, after, limit)

    async def load_suppressions(self, batch: int = 100_000) -> AsyncIterator[list[tuple[str, str]]]:
        async for scope, numbers in self.load_numbers(batch):
            yield list(zip(repeat(scope), numbers))

    async def load_numbers(self, batch: int = 100_000) -> AsyncIterator[tuple[str, list[str]]]:
        check_limit(batch)
        async for chunk in reads.load_numbers(self.db, batch):
            yield chunk

    # -- events --------------------------------------------------------------------------------

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
        if limit is not None:
            check_limit(limit)
        return await reads.events(
            self.db,
            since=since,
            until=until,
            number=number,
            types=types,
            scope=scope,
            after_id=after_id,
            limit=limit,
        )

    # -- change feed ---------------------------------------------------------------------------

    async def changes_since(self, after_id: int, limit: int = 10_000) -> list[Change]:
        check_limit(limit)
        return await reads.changes_since(self.db, after_id, limit)

    async def last_change_id(self) -> int:
        return await reads.last_change_id(self.db)

    # -- report counters -----------------------------------------------------------------------

    async def add_sent_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        if not counts:
            return
        async with self.db.transaction("adding sent counts") as conn:
            await writes.add_sent_counts(conn, counts)

    async def record_last_campaigns(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        if not rows:
            return
        async with self.db.transaction("recording last campaigns") as conn:
            await writes.record_last_campaigns(conn, rows)

    async def last_campaign(self, scope: str, number: str) -> str | None:
        return await reads.last_campaign(self.db, scope, number)

    async def sent_counts(
        self, since_day: str | None = None, scope: str | None = None
    ) -> list[tuple[str, str, str, int]]:
        return await reads.sent_counts(self.db, since_day, scope)

    # -- console aggregates (kept by triggers, migration 0007) ---------------------------------

    async def daily_counts(self, since: date, scope: str | None = None) -> list[DayCount]:
        return await reads.daily_counts(self.db, since, scope)

    async def totals(self, by: TotalBy, since: date, scope: str | None = None) -> list[Total]:
        return await reads.totals(self.db, by, since, scope)

    async def sent_totals(self, since_day: str, scope: str | None = None) -> list[tuple[str, str, int]]:
        return await reads.sent_totals(self.db, since_day, scope)

    async def suppression_count(self, scope: str | None = None) -> int:
        return await reads.suppression_count(self.db, scope)

    async def event_id_bounds(self, since: date, until: date) -> tuple[int, int] | None:
        return await reads.event_id_bounds(self.db, since, until)

    # -- consent and erasure ------------------------------------------------------------------

    async def add_consent(self, consent: Consent, *, channel: Channel) -> Consent:
        if consent.id is not None:
            raise ValueError(f"consent already has id {consent.id}; pass a new Consent")
        async with self.db.transaction("adding a consent") as conn:
            new_id = await consents.add_consent(conn, consent, Channel(channel))
        return replace(consent, id=new_id)

    async def consents(self, scope: str, number: str) -> list[Consent]:
        return await consents.consents(self.db, scope, number)

    async def redact_number(self, number: str, *, operator: str | None, channel: Channel) -> int:
        async with self.db.transaction("redacting a number") as conn:
            return await consents.redact_number(conn, number, operator, Channel(channel))

    async def redact_texts_before(self, before: datetime) -> int:
        async with self.db.transaction("redacting old texts") as conn:
            return await consents.redact_texts_before(conn, before)

    # -- webhook outbox ------------------------------------------------------------------------

    async def webhook_state(self, name: str) -> WebhookState:
        found = await outbox.webhook_states(self.db, name)
        return found[0] if found else WebhookState(name=name)

    async def webhook_states(self) -> list[WebhookState]:
        return await outbox.webhook_states(self.db)

    async def advance_webhook(
        self, name: str, expected: int, cursor: int, dead_letter: DeadLetter | None = None
    ) -> bool:
        async with self.db.transaction("advancing a webhook cursor") as conn:
            return await outbox.advance(conn, name, expected, cursor, dead_letter)

    async def set_webhook_cursor(self, name: str, cursor: int) -> None:
        async with self.db.transaction("setting a webhook cursor") as conn:
            await outbox.set_cursor(conn, name, cursor)

    async def note_webhook_error(self, name: str, error: str | None) -> None:
        async with self.db.transaction("noting a webhook error") as conn:
            await outbox.note_error(conn, name, error)

    async def dead_letters(self, name: str, limit: int = 100) -> list[DeadLetter]:
        check_limit(limit)
        return await outbox.dead_letters(self.db, name, limit)

    # -- web tokens ----------------------------------------------------------------------------

    async def add_web_tokens(self, tokens: Sequence[WebToken]) -> None:
        if not tokens:
            return
        async with self.db.transaction("adding web tokens") as conn:
            await outbox.add_tokens(conn, tokens)

    async def web_token(self, token: str) -> WebToken | None:
        return await outbox.web_token(self.db, token)
    # -- receipt routes ----------------------------------------------------------------------

    async def record_receipt_routes(self, rows: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        if not rows:
            return
        async with self.db.transaction("recording receipt routes") as conn:
            await conn.executemany(
                "INSERT OR REPLACE INTO receipt_routes (upstream, message_id, account, session, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                [(u, m, a, s, to_micros(e)) for u, m, a, s, e in rows],
            )

    async def receipt_route(self, upstream: str, message_id: str, now: datetime) -> tuple[str, str] | None:
        rows = await self.db.fetch(
            "reading a receipt route",
            "SELECT account, session FROM receipt_routes"
            " WHERE upstream = ? AND message_id = ? AND expires_at > ?",
            (upstream, message_id, to_micros(now)),
        )
        return (str(rows[0][0]), str(rows[0][1])) if rows else None

    async def purge_receipt_routes(self, now: datetime) -> int:
        async with self.db.transaction("purging receipt routes") as conn:
            cursor = await conn.execute("DELETE FROM receipt_routes WHERE expires_at <= ?", (to_micros(now),))
            return cursor.rowcount

    # -- health --------------------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Commit a heartbeat row, and verify the file on disk is still the one we opened."""
        await self.db.check_identity()
        async with self.db.transaction("write check") as conn:
            await writes.heartbeat(conn)
