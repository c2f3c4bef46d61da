""":class:`SQLStore`: the :class:`Store` interface implemented once for every SQL backend.

It checks arguments (:mod:`gateway.store.checks`), frames write transactions on the backend's
database object and delegates each operation to one function: a shared one from :mod:`.queries` or
:mod:`.selfservice` (written against the backend's :class:`~.dialect.Dialect`), or one of the
backend's own modules, which implement the Protocols of :mod:`.ports`. A backend
(:class:`~gateway.store.sqlite.SQLiteStore`, :class:`~gateway.store.postgres.PostgresStore`) is a
subclass that passes its database and modules and adds what only it has.

A new operation: its SQL in a module per backend (a Protocol in :mod:`.ports` for it, a parameter
here), and one method below that checks, frames and delegates like its neighbours.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from datetime import date, datetime
from itertools import repeat
from typing import Any, Generic, TypeVar

from gateway.store.base import Store
from gateway.store.checks import check_limit, check_stateless, check_suppressing, check_unsuppressing
from gateway.store.guards import FOOTER_PAGE
from gateway.store.model import (
    Change,
    Channel,
    Consent,
    DayCount,
    DeadLetter,
    Event,
    EventType,
    HonourTimes,
    Suppression,
    Total,
    TotalBy,
    WebhookState,
    WebToken,
)
from gateway.store.sql import aggregates, footers, queries, selfservice
from gateway.store.sql.dialect import Dialect
from gateway.store.sql.ports import BulkImport, Connection, Consents, Outbox, Reads, SQLDatabase, Writes

DbT = TypeVar("DbT", bound=SQLDatabase[Any])
ConnT = TypeVar("ConnT", bound=Connection)


class SQLStore(Store, Generic[DbT, ConnT]):
    """:class:`Store` on ``db``: reads through it, writes in its transactions (``ConnT`` each)."""

    def __init__(
        self,
        db: DbT,
        *,
        dialect: Dialect,
        reads: Reads[DbT],
        bulk: BulkImport[DbT],
        writes: Writes[ConnT],
        consent_writes: Consents[ConnT],
        outbox: Outbox[ConnT],
    ) -> None:
        self.db = db
        self.dialect = dialect
        self.reads = reads
        self.bulk = bulk
        self.writes = writes
        self.consent_writes = consent_writes
        self.outbox = outbox

    def transaction(self, action: str) -> AbstractAsyncContextManager[ConnT]:
        """One write transaction on the backend (``action`` names it in a :class:`StoreError`)."""
        transaction: AbstractAsyncContextManager[ConnT] = self.db.transaction(action)
        return transaction

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        await self.db.open()

    async def close(self) -> None:
        await self.db.close()

    # -- state changes -------------------------------------------------------------------------

    async def opt_out(self, event: Event) -> bool:
        check_suppressing(event)
        async with self.transaction("opt-out") as conn:
            return await self.writes.opt_out(conn, event)

    async def opt_in(self, event: Event) -> bool:
        check_unsuppressing(event)
        async with self.transaction("opt-in") as conn:
            return await self.writes.opt_in(conn, event)

    async def append_events(self, events: Sequence[Event]) -> None:
        check_stateless(events)
        if not events:
            return
        async with self.transaction("appending events") as conn:
            await self.writes.append_events(conn, events)

    async def import_suppressions(
        self,
        rows: Iterable[tuple[str, str]],
        *,
        channel: Channel,
        reason: str | None,
        operator: str | None = None,
    ) -> int:
        return await self.bulk.import_suppressions(
            self.db, rows, channel=Channel(channel), reason=reason, operator=operator
        )

    # -- suppressions --------------------------------------------------------------------------

    async def get_suppression(self, scope: str, number: str) -> Suppression | None:
        return await queries.get_suppression(self.db, self.dialect, scope, number)

    async def list_suppressions(
        self,
        scope: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Suppression]:
        check_limit(limit)
        return await queries.list_suppressions(self.db, self.dialect, scope, after, limit)

    async def load_suppressions(self, batch: int = 100_000) -> AsyncIterator[list[tuple[str, str]]]:
        async for scope, numbers in self.load_numbers(batch):
            yield list(zip(repeat(scope), numbers))

    async def load_numbers(self, batch: int = 100_000) -> AsyncIterator[tuple[str, list[str]]]:
        check_limit(batch)
        async for chunk in self.reads.load_numbers(self.db, batch):
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
        return await queries.events(
            self.db,
            self.dialect,
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
        return await self.reads.changes_since(self.db, after_id, limit)

    async def last_change_id(self) -> int:
        return await self.reads.last_change_id(self.db)

    # -- report counters -----------------------------------------------------------------------

    async def add_sent_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        if not counts:
            return
        async with self.transaction("adding sent counts") as conn:
            await self.writes.add_sent_counts(conn, counts)

    async def record_last_campaigns(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        if not rows:
            return
        async with self.transaction("recording last campaigns") as conn:
            await self.writes.record_last_campaigns(conn, rows)

    async def last_campaign(self, scope: str, number: str) -> str | None:
        return await queries.last_campaign(self.db, self.dialect, scope, number)

    async def sent_counts(
        self, since_day: str | None = None, scope: str | None = None
    ) -> list[tuple[str, str, str, int]]:
        return await queries.sent_counts(self.db, self.dialect, since_day, scope)

    # -- console aggregates (kept by triggers, migration 0007; times to honour: 0009) ----------

    async def daily_counts(self, since: date, scope: str | None = None) -> list[DayCount]:
        return await aggregates.daily_counts(self.db, self.dialect, since, scope)

    async def totals(self, by: TotalBy, since: date, scope: str | None = None) -> list[Total]:
        return await aggregates.totals(self.db, self.dialect, by, since, scope)

    async def sent_totals(self, since_day: str, scope: str | None = None) -> list[tuple[str, str, int]]:
        return await aggregates.sent_totals(self.db, self.dialect, since_day, scope)

    async def suppression_count(self, scope: str | None = None) -> int:
        return await aggregates.suppression_count(self.db, self.dialect, scope)

    async def event_id_bounds(self, since: date, until: date) -> tuple[int, int] | None:
        return await aggregates.event_id_bounds(self.db, self.dialect, since, until)

    async def honour_times(
        self, since: date, scope: str | None = None, limit: int = 10_000
    ) -> HonourTimes | None:
        return await aggregates.honour_times(self.db, self.dialect, since, scope, limit)

    # -- footers and confirmations sent (SentGuards, migrations 0008) --------------------------

    async def record_footers(self, rows: Sequence[tuple[str, str, datetime]]) -> None:
        if not rows:
            return
        async with self.transaction("recording footers sent") as conn:
            await self.writes.record_footers(conn, rows)

    async def footers_since(
        self, since: datetime, limit: int = FOOTER_PAGE
    ) -> list[tuple[str, str, datetime]]:
        return await footers.footers_since(self.db, self.dialect, since, limit)

    async def purge_footers(self, before: datetime) -> int:
        async with self.transaction("purging footers sent") as conn:
            return await footers.purge_footers(conn, self.dialect, before)

    async def claim_confirmation(
        self, scope: str, number: str, kind: str, at: datetime, window: float
    ) -> bool:
        async with self.transaction("claiming a confirmation") as conn:
            return await footers.claim_confirmation(conn, self.dialect, scope, number, kind, at, window)

    async def release_confirmation(self, scope: str, number: str, kind: str, at: datetime) -> None:
        async with self.transaction("releasing a confirmation") as conn:
            await footers.release_confirmation(conn, self.dialect, scope, number, kind, at)

    async def purge_confirmations(self, before: datetime) -> int:
        async with self.transaction("purging confirmations sent") as conn:
            return await footers.purge_confirmations(conn, self.dialect, before)

    # -- consent and erasure -------------------------------------------------------------------

    async def add_consent(self, consent: Consent, *, channel: Channel) -> Consent:
        if consent.id is not None:
            raise ValueError(f"consent already has id {consent.id}; pass a new Consent")
        async with self.transaction("adding a consent") as conn:
            new_id = await self.consent_writes.add_consent(conn, consent, Channel(channel))
        return replace(consent, id=new_id)

    async def consents(self, scope: str, number: str) -> list[Consent]:
        return await selfservice.consents(self.db, self.dialect, scope, number)

    async def redact_number(self, number: str, *, operator: str | None, channel: Channel) -> int:
        async with self.transaction("redacting a number") as conn:
            return await self.consent_writes.redact_number(conn, number, operator, Channel(channel))

    async def redact_texts_before(self, before: datetime) -> int:
        async with self.transaction("redacting old texts") as conn:
            return await self.consent_writes.redact_texts_before(conn, before)

    # -- webhook outbox ------------------------------------------------------------------------

    async def webhook_state(self, name: str) -> WebhookState:
        found = await selfservice.webhook_states(self.db, self.dialect, name)
        return found[0] if found else WebhookState(name=name)

    async def webhook_states(self) -> list[WebhookState]:
        return await selfservice.webhook_states(self.db, self.dialect)

    async def advance_webhook(
        self, name: str, expected: int, cursor: int, dead_letter: DeadLetter | None = None
    ) -> bool:
        async with self.transaction("advancing a webhook cursor") as conn:
            return await self.outbox.advance(conn, name, expected, cursor, dead_letter)

    async def set_webhook_cursor(self, name: str, cursor: int) -> None:
        async with self.transaction("setting a webhook cursor") as conn:
            await selfservice.set_cursor(conn, self.dialect, name, cursor)

    async def note_webhook_error(self, name: str, error: str | None) -> None:
        async with self.transaction("noting a webhook error") as conn:
            await selfservice.note_error(conn, self.dialect, name, error)

    async def dead_letters(self, name: str, limit: int = 100) -> list[DeadLetter]:
        check_limit(limit)
        return await selfservice.dead_letters(self.db, self.dialect, name, limit)

    # -- web tokens ----------------------------------------------------------------------------

    async def add_web_tokens(self, tokens: Sequence[WebToken]) -> None:
        if not tokens:
            return
        async with self.transaction("adding web tokens") as conn:
            await self.outbox.add_tokens(conn, tokens)

    async def web_token(self, token: str) -> WebToken | None:
        return await selfservice.web_token(self.db, self.dialect, token)

    # -- receipt routes ------------------------------------------------------------------------

    async def record_receipt_routes(self, rows: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        if not rows:
            return
        async with self.transaction("recording receipt routes") as conn:
            await self.writes.record_receipt_routes(conn, rows)

    async def receipt_route(self, upstream: str, message_id: str, now: datetime) -> tuple[str, str] | None:
        return await queries.receipt_route(self.db, self.dialect, upstream, message_id, now)

    async def purge_receipt_routes(self, now: datetime) -> int:
        async with self.transaction("purging receipt routes") as conn:
            return await queries.purge_receipt_routes(conn, self.dialect, now)

    # -- health --------------------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Commit a heartbeat row: proves the database is reachable and accepts commits."""
        async with self.transaction("write check") as conn:
            await self.writes.heartbeat(conn)
