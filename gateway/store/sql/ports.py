"""What :class:`~gateway.store.sql.facade.SQLStore` needs from a SQL backend, as Protocols.

A backend supplies a database object (its connections and transaction framing) and modules of
functions: its reads take the database, its writes take the connection of an open transaction
(the facade opens it and commits when the function returns). The backend's modules themselves
implement these Protocols (mypy checks a module against a Protocol), so a backend is a set of
modules, not a class wrapping them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, Protocol, TypeVar

from gateway.store.model import Change, Channel, Consent, DeadLetter, Event, WebToken

ConnT = TypeVar("ConnT")
DbT_contra = TypeVar("DbT_contra", contravariant=True)
ConnT_contra = TypeVar("ConnT_contra", contravariant=True)
ConnT_co = TypeVar("ConnT_co", covariant=True)


class Cursor(Protocol):
    """The part of a DB-API style async cursor the shared statements use."""

    @property
    def rowcount(self) -> int: ...

    async def fetchall(self) -> Iterable[Any]: ...


class Connection(Protocol):
    """The part of an async connection (aiosqlite, psycopg) the shared statements use."""

    async def execute(self, sql: str, params: Sequence[Any], /) -> Cursor: ...


class SQLDatabase(Protocol[ConnT_co]):
    """A backend's connections: opened and closed with the store, reads and write transactions."""

    async def open(self) -> None:
        """Connect / create / migrate; a no-op when open."""

    async def close(self) -> None:
        """Release the connections once running transactions have finished; idempotent."""

    def check_open(self) -> object:
        """:class:`StoreClosedError` unless the store is open."""

    async def fetch(self, action: str, sql: str, params: Sequence[Any] = (), /) -> list[Any]:
        """The rows of one read; failures are :class:`StoreError` naming ``action``."""

    def transaction(self, action: str) -> AbstractAsyncContextManager[ConnT_co]:
        """One write transaction, committed when the block ends, shielded from cancellation."""


class Reads(Protocol[DbT_contra]):
    """The queries whose SQL or strategy is the backend's own (the rest are in :mod:`.queries`)."""

    def load_numbers(self, db: DbT_contra, batch: int) -> AsyncIterator[tuple[str, list[str]]]: ...

    async def changes_since(self, db: DbT_contra, after_id: int, limit: int) -> list[Change]: ...

    async def last_change_id(self, db: DbT_contra) -> int: ...


class BulkImport(Protocol[DbT_contra]):
    """The bulk import, which frames its own transactions (a temporary table, then one commit)."""

    async def import_suppressions(
        self,
        db: DbT_contra,
        rows: Iterable[tuple[str, str]],
        *,
        channel: Channel,
        reason: str | None,
        operator: str | None,
    ) -> int: ...


class Writes(Protocol[ConnT_contra]):
    """Bodies of write transactions: state changes, counters, receipt routes, footers sent and the
    heartbeat."""

    async def opt_out(self, conn: ConnT_contra, event: Event) -> bool: ...

    async def opt_in(self, conn: ConnT_contra, event: Event) -> bool: ...

    async def append_events(self, conn: ConnT_contra, events: Sequence[Event]) -> None: ...

    async def add_sent_counts(
        self, conn: ConnT_contra, counts: Mapping[tuple[str, str, str], int]
    ) -> None: ...

    async def record_last_campaigns(
        self, conn: ConnT_contra, rows: Sequence[tuple[str, str, str, datetime]]
    ) -> None: ...

    async def record_receipt_routes(
        self, conn: ConnT_contra, rows: Sequence[tuple[str, str, str, str, datetime]]
    ) -> None: ...

    async def record_footers(
        self, conn: ConnT_contra, rows: Sequence[tuple[str, str, datetime]]
    ) -> None: ...

    async def heartbeat(self, conn: ConnT_contra) -> None: ...


class Consents(Protocol[ConnT_contra]):
    """Bodies of the consent and erasure write transactions."""

    async def add_consent(self, conn: ConnT_contra, consent: Consent, channel: Channel) -> int: ...

    async def redact_number(
        self, conn: ConnT_contra, number: str, operator: str | None, channel: Channel
    ) -> int: ...

    async def redact_texts_before(self, conn: ConnT_contra, before: datetime) -> int: ...


class Outbox(Protocol[ConnT_contra]):
    """Bodies of the webhook cursor and web token write transactions."""

    async def advance(
        self, conn: ConnT_contra, name: str, expected: int, cursor: int, dead: DeadLetter | None
    ) -> bool: ...

    async def add_tokens(self, conn: ConnT_contra, tokens: Sequence[WebToken]) -> None: ...
