"""The embedded default :class:`Store`: one SQLite file, WAL mode, fsync on every commit.

Durability: ``synchronous=FULL`` in WAL mode fsyncs the log on every commit, so an opt-out that
:meth:`SQLiteStore.opt_out` returned for survives ``kill -9`` and power loss. Several processes may
share the file (the CLI while the proxy runs); writers wait up to ``busy_timeout`` for each other
and then fail with :class:`StoreError`.

Connections: one writer (its transactions serialised by an in-process lock and shielded from
cancellation once begun, so a started commit always finishes), one read-only reader (reads never
wait behind a commit's fsync), and a short-lived extra one per bulk import.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import stat
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from importlib import resources
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from gateway.store.base import (
    Store,
    check_limit,
    check_stateless,
    check_suppressing,
    check_unsuppressing,
)
from gateway.store.model import (
    Change,
    Channel,
    Event,
    EventType,
    StoreClosedError,
    StoreError,
    Suppression,
    as_utc,
    utcnow,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
_PRAGMA_NAME = re.compile(r"[a-z_]+")
_PRAGMA_WORD = re.compile(r"-?[A-Za-z0-9_]+")
#: Imports adding at least this many rows checkpoint the WAL before returning.
_CHECKPOINT_AFTER = 10_000
#: Pragmas the store owns: durability and locking must not be configurable by accident.
_RESERVED_PRAGMAS = frozenset({"journal_mode", "synchronous", "foreign_keys", "busy_timeout"})

_EVENT_COLUMNS = (
    "id, ts, type, scope, number, channel, account, keyword, text, message_ids, reason, campaign"
)
_INSERT_EVENT = (
    "INSERT INTO events (ts, type, scope, number, channel, account, keyword, text, message_ids,"
    " reason, campaign, suppressed) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SUPPRESSION_COLUMNS = "scope, number, since, channel, keyword, reason, event_id"


def to_micros(ts: datetime) -> int:
    """Aware datetime -> integer microseconds since the Unix epoch (the stored form)."""
    return (as_utc(ts) - _EPOCH) // _MICROSECOND


def from_micros(us: int) -> datetime:
    """The inverse of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=us)


# -- migrations ----------------------------------------------------------------------------------


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every file in ``migrations/``, in order; versions must be 1, 2, 3..."""
    found: list[tuple[int, str]] = []
    for entry in resources.files(__package__ or "gateway.store").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 0001, 0002, ...; found {versions}")
    return found


def split_sql(script: str) -> list[str]:
    """Split ``script`` into complete statements (trigger bodies and comments handled by SQLite).

    ``executescript`` would commit the surrounding BEGIN IMMEDIATE, so migrations run statement by
    statement inside it instead.
    """
    statements: list[str] = []
    start = 0
    for end in (m.end() for m in re.finditer(";", script)):
        candidate = script[start:end]
        if sqlite3.complete_statement(candidate):
            statements.append(candidate.strip())
            start = end
    if script[start:].strip() and sqlite3.complete_statement(script[start:] + ";"):
        raise ValueError("migration ends with an unterminated statement")
    return statements


# -- error translation ---------------------------------------------------------------------------


@contextlib.contextmanager
def _translated(action: str) -> Iterator[None]:
    """Turn sqlite3 / aiosqlite / OS errors into :class:`StoreError`, cause chained."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{action} failed: {exc}") from exc


class _Guarded:
    """Iterate user rows on the aiosqlite thread, keeping their exceptions apart from SQLite's."""

    def __init__(self, rows: Iterable[tuple[str, str]]) -> None:
        self._rows = rows
        self.error: BaseException | None = None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        try:
            for row in self._rows:
                scope, number = row  # a malformed row is the caller's ValueError, not ours
                yield scope, number
        except Exception as exc:
            self.error = exc


# -- file handling -------------------------------------------------------------------------------


def _prepare_file(path: Path) -> None:
    """Create the database file 0600 if missing; align stray -wal/-shm files with its mode."""
    if not path.exists():
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        _fsync_dir(path.parent)
    _align_sidecars(path)


def _align_sidecars(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode) & 0o666
    for suffix in ("-wal", "-shm", "-journal"):
        sidecar = path.with_name(path.name + suffix)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(sidecar.stat().st_mode) != mode:
                os.chmod(sidecar, mode)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _file_identity(path: Path) -> tuple[int, int]:
    st = path.stat()
    return (st.st_dev, st.st_ino)


# -- row conversion ------------------------------------------------------------------------------


def _event_params(event: Event, suppressed: int | None) -> tuple[Any, ...]:
    return (
        to_micros(event.ts),
        event.type.value,
        event.scope,
        event.number,
        event.channel.value,
        event.account,
        event.keyword,
        event.text,
        json.dumps(list(event.message_ids)) if event.message_ids else None,
        event.reason,
        event.campaign,
        suppressed,
    )


def _event_from_row(row: Sequence[Any]) -> Event:
    (id_, ts, type_, scope, number, channel, account, keyword, text, message_ids, reason, campaign) = (
        row
    )
    return Event(
        id=id_,
        ts=from_micros(ts),
        type=EventType(type_),
        scope=scope,
        number=number,
        channel=Channel(channel),
        account=account,
        keyword=keyword,
        text=text,
        message_ids=tuple(json.loads(message_ids)) if message_ids else (),
        reason=reason,
        campaign=campaign,
    )


def _suppression_from_row(row: Sequence[Any]) -> Suppression:
    scope, number, since, channel, keyword, reason, event_id = row
    return Suppression(scope, number, from_micros(since), channel, keyword, reason, event_id)


# -- the store -----------------------------------------------------------------------------------


class SQLiteStore(Store):
    """:class:`Store` on one SQLite file (created 0600, WAL, ``synchronous=FULL``).

    ``pragmas`` are applied to every connection after migrations (tuning such as ``cache_size``;
    tests use ``query_only`` and ``max_page_count`` to simulate a read-only or full disk).
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
        self._pragmas = dict(pragmas or {})
        for name, value in self._pragmas.items():
            if (
                not _PRAGMA_NAME.fullmatch(name)
                or not _PRAGMA_WORD.fullmatch(str(value))
                or name in _RESERVED_PRAGMAS
            ):
                raise ValueError(f"unsupported pragma {name}={value!r}")
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._write_lock = anyio.Lock()
        self._identity: tuple[int, int] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        if self._writer is not None:
            return
        writer: aiosqlite.Connection | None = None
        reader: aiosqlite.Connection | None = None
        try:
            with _translated(f"opening {self.path}"):
                await anyio.to_thread.run_sync(_prepare_file, self.path)
                writer = await self._connect()
                await self._enable_wal(writer)
                await self._migrate(writer)
                await self._apply_pragmas(writer)
                reader = await self._connect()
                await reader.execute("PRAGMA query_only = ON")
                await self._apply_pragmas(reader)
                await anyio.to_thread.run_sync(_align_sidecars, self.path)
                self._identity = await anyio.to_thread.run_sync(_file_identity, self.path)
        except BaseException:
            with anyio.CancelScope(shield=True):
                for conn in (reader, writer):
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await conn.close()
            raise
        self._writer, self._reader = writer, reader

    async def close(self) -> None:
        writer, reader = self._writer, self._reader
        if writer is None or reader is None:
            return
        with anyio.CancelScope(shield=True):
            async with self._write_lock:  # let a running transaction finish
                self._writer = self._reader = None
                with _translated("closing the store"):
                    try:
                        await reader.close()
                    finally:
                        await writer.close()

    async def _connect(self) -> aiosqlite.Connection:
        conn = await aiosqlite.connect(
            str(self.path), isolation_level=None, timeout=self.busy_timeout
        )
        try:
            await conn.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
            await conn.execute("PRAGMA synchronous = FULL")
            await conn.execute("PRAGMA foreign_keys = ON")
            # Bound the WAL left behind by a big import once it has been checkpointed.
            await conn.execute("PRAGMA journal_size_limit = 67108864")
        except BaseException:
            with anyio.CancelScope(shield=True):
                await conn.close()
            raise
        return conn

    async def _enable_wal(self, conn: aiosqlite.Connection) -> None:
        # Switching a fresh file to WAL needs a moment of exclusive access; a concurrent opener can
        # make it fail with SQLITE_BUSY without the busy handler being consulted, so retry.
        with anyio.fail_after(self.busy_timeout + 1):
            while True:
                try:
                    rows = list(await conn.execute_fetchall("PRAGMA journal_mode = WAL"))
                except sqlite3.OperationalError as exc:
                    if exc.sqlite_errorcode & 0xFF not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                        raise
                    await anyio.sleep(0.01)
                    continue
                mode = str(rows[0][0]).lower() if rows else ""
                if mode != "wal":
                    raise StoreError(f"{self.path}: cannot enable WAL journal mode (got {mode!r})")
                return

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        steps = migrations()
        # BEGIN IMMEDIATE takes the write lock before user_version is read, so two processes
        # opening a fresh file cannot both apply 0001.
        await conn.execute("BEGIN IMMEDIATE")
        try:
            rows = list(await conn.execute_fetchall("PRAGMA user_version"))
            current = int(rows[0][0])
            if current > len(steps):
                raise StoreError(
                    f"{self.path} has schema version {current}; this release knows {len(steps)}"
                )
            for version, sql in steps[current:]:
                for statement in split_sql(sql):
                    await conn.execute(statement)
                await conn.execute(f"PRAGMA user_version = {version}")
            await conn.execute("COMMIT")
        except BaseException:
            with anyio.CancelScope(shield=True), contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            raise

    async def _apply_pragmas(self, conn: aiosqlite.Connection) -> None:
        for name, value in self._pragmas.items():
            await conn.execute(f"PRAGMA {name} = {value}")

    def _get_reader(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreClosedError(f"store {self.path} is not open")
        return self._reader

    @contextlib.asynccontextmanager
    async def _locked(self, action: str) -> AsyncIterator[None]:
        """Hold the in-process write lock, waiting at most ``busy_timeout`` like SQLite would."""
        with anyio.move_on_after(self.busy_timeout) as waiting:
            await self._write_lock.acquire()
        if waiting.cancelled_caught:
            raise StoreError(f"{action} failed: store busy for more than {self.busy_timeout} s")
        try:
            yield
        finally:
            self._write_lock.release()

    @contextlib.asynccontextmanager
    async def _transaction(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer; shielded once the lock is held."""
        async with self._locked(action):
            conn = self._writer
            if conn is None:
                raise StoreClosedError(f"store {self.path} is not open")
            with anyio.CancelScope(shield=True), _translated(action):
                await conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    await conn.execute("COMMIT")
                except BaseException:
                    # Some errors (SQLITE_FULL, IOERR) roll back by themselves; others leave the
                    # transaction open. Either way, leave the connection outside a transaction.
                    with contextlib.suppress(sqlite3.Error):
                        await conn.execute("ROLLBACK")
                    raise

    async def _fetch(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        conn = self._get_reader()
        with _translated(action):
            return list(await conn.execute_fetchall(sql, params))

    # -- state changes -------------------------------------------------------------------------

    async def opt_out(self, event: Event) -> bool:
        check_suppressing(event)
        async with self._transaction("opt-out") as conn:
            rows = await conn.execute_fetchall(
                "SELECT 1 FROM suppressions WHERE scope = ? AND number = ?",
                (event.scope, event.number),
            )
            new = not list(rows)
            cursor = await conn.execute(_INSERT_EVENT, _event_params(event, 1 if new else None))
            if new:
                await conn.execute(
                    f"INSERT INTO suppressions ({_SUPPRESSION_COLUMNS})"
                    " VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        event.scope,
                        event.number,
                        to_micros(event.ts),
                        event.channel.value,
                        event.keyword,
                        event.reason,
                        cursor.lastrowid,
                    ),
                )
        return new

    async def opt_in(self, event: Event) -> bool:
        check_unsuppressing(event)
        async with self._transaction("opt-in") as conn:
            cursor = await conn.execute(
                "DELETE FROM suppressions WHERE scope = ? AND number = ?",
                (event.scope, event.number),
            )
            removed = cursor.rowcount > 0
            await conn.execute(_INSERT_EVENT, _event_params(event, 0 if removed else None))
        return removed

    async def append_events(self, events: Sequence[Event]) -> None:
        check_stateless(events)
        if not events:
            return
        async with self._transaction("appending events") as conn:
            await conn.executemany(_INSERT_EVENT, [_event_params(e, None) for e in events])

    async def import_suppressions(
        self,
        rows: Iterable[tuple[str, str]],
        *,
        channel: Channel,
        reason: str | None,
        account: str | None = None,
    ) -> int:
        channel = Channel(channel)
        guarded = _Guarded(rows)
        if self._writer is None:
            raise StoreClosedError(f"store {self.path} is not open")
        with _translated("import"):
            conn = await self._connect()
        try:
            with _translated("import"):
                await self._apply_pragmas(conn)
            # Phase 1, without the database write lock: collect the rows in a temporary table
            # private to this connection, then sort and de-duplicate them into a second one
            # (appending to a heap and sorting once is ~2.5x faster than random B-tree inserts).
            with _translated("import (reading rows)"):
                await conn.execute(
                    "CREATE TEMP TABLE import_raw (scope TEXT NOT NULL, number TEXT NOT NULL)"
                )
                await conn.execute(
                    "CREATE TEMP TABLE import_rows (scope TEXT NOT NULL, number TEXT NOT NULL,"
                    " PRIMARY KEY (scope, number)) WITHOUT ROWID"
                )
                await conn.execute("BEGIN")
                await conn.executemany(
                    "INSERT INTO temp.import_raw (scope, number) VALUES (?, ?)", guarded
                )
                if guarded.error is None:
                    await conn.execute(
                        "INSERT OR IGNORE INTO temp.import_rows (scope, number)"
                        " SELECT scope, number FROM temp.import_raw ORDER BY scope, number"
                    )
                    await conn.execute("DELETE FROM temp.import_raw")
                await conn.execute("COMMIT")
            if guarded.error is not None:
                raise guarded.error
            # Phase 2, one write transaction: an IMPORT event for every row not yet suppressed
            # (ids in (scope, number) order), then the suppressions pointing at those events. The
            # in-process lock makes this store's own writers queue instead of hitting SQLite's
            # busy_timeout (they still give up after busy_timeout, with StoreError).
            async with self._locked("import"):
                if self._writer is None:
                    raise StoreClosedError(f"store {self.path} was closed during the import")
                with anyio.CancelScope(shield=True), _translated("import"):
                    await conn.execute("BEGIN IMMEDIATE")
                    try:
                        top = list(await conn.execute_fetchall("SELECT max(id) FROM events"))
                        before = top[0][0] or 0
                        cursor = await conn.execute(
                            "INSERT INTO events (ts, type, scope, number, channel, account, reason,"
                            " suppressed) SELECT ?, ?, t.scope, t.number, ?, ?, ?, 1"
                            " FROM temp.import_rows AS t WHERE NOT EXISTS (SELECT 1 FROM"
                            " main.suppressions AS s WHERE s.scope = t.scope AND s.number = t.number)"
                            " ORDER BY t.scope, t.number",
                            (
                                to_micros(utcnow()),
                                EventType.IMPORT.value,
                                channel.value,
                                account,
                                reason,
                            ),
                        )
                        added = cursor.rowcount
                        await conn.execute(
                            f"INSERT INTO suppressions ({_SUPPRESSION_COLUMNS})"
                            " SELECT scope, number, ts, channel, NULL, reason, id"
                            " FROM events WHERE id > ?",
                            (before,),
                        )
                        await conn.execute("COMMIT")
                    except BaseException:
                        with contextlib.suppress(sqlite3.Error):
                            await conn.execute("ROLLBACK")
                        raise
                    # The import is committed. Checkpoint and truncate the (now large) WAL here,
                    # so the next opt-out does not pay for it; skip it if readers are in the way.
                    if added >= _CHECKPOINT_AFTER:
                        with contextlib.suppress(sqlite3.Error):
                            await conn.execute("PRAGMA busy_timeout = 100")
                            await conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            return added
        finally:
            with anyio.CancelScope(shield=True), contextlib.suppress(sqlite3.Error):
                await conn.close()

    # -- suppressions --------------------------------------------------------------------------

    async def get_suppression(self, scope: str, number: str) -> Suppression | None:
        rows = await self._fetch(
            "reading a suppression",
            f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions WHERE scope = ? AND number = ?",
            (scope, number),
        )
        return _suppression_from_row(rows[0]) if rows else None

    async def list_suppressions(
        self,
        scope: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Suppression]:
        check_limit(limit)
        clauses: list[str] = []
        params: list[Any] = []
        if scope is None:
            if after is not None:
                clauses.append("(scope, number) > (?, ?)")
                params.extend(after)
        else:
            # Spelled out so the primary key range is used: "scope = ? AND (scope, number) > ..."
            # would make SQLite scan the scope from its start for every page.
            if after is not None and after[0] > scope:
                self._get_reader()  # still refuse a closed store
                return []
            clauses.append("scope = ?")
            params.append(scope)
            if after is not None and after[0] == scope:
                clauses.append("number > ?")
                params.append(after[1])
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._fetch(
            "listing suppressions",
            f"SELECT {_SUPPRESSION_COLUMNS} FROM suppressions {where}"
            " ORDER BY scope, number LIMIT ?",
            (*params, limit),
        )
        return [_suppression_from_row(row) for row in rows]

    async def load_suppressions(self, batch: int = 100_000) -> AsyncIterator[list[tuple[str, str]]]:
        async for scope, numbers in self.load_numbers(batch):
            yield list(zip(repeat(scope), numbers))

    async def load_numbers(self, batch: int = 100_000) -> AsyncIterator[tuple[str, list[str]]]:
        # One scope at a time, selecting only the number column: sqlite3 then builds a 1-tuple
        # and one str per row instead of a 2-tuple and two strs, about twice as fast.
        check_limit(batch)
        for scope in await self._scopes():
            last = ""
            while True:
                rows = await self._fetch(
                    "loading suppressions",
                    "SELECT number FROM suppressions WHERE scope = ? AND number > ?"
                    " ORDER BY number LIMIT ?",
                    (scope, last, batch),
                )
                numbers: list[str] = list(map(itemgetter(0), rows))
                if numbers:
                    yield scope, numbers
                if len(numbers) < batch:
                    break
                last = numbers[-1]

    async def _scopes(self) -> list[str]:
        """Distinct scopes via index seeks (a loose index scan), not a full table scan."""
        scopes: list[str] = []
        rows = await self._fetch("listing scopes", "SELECT min(scope) FROM suppressions")
        while rows and rows[0][0] is not None:
            scopes.append(rows[0][0])
            rows = await self._fetch(
                "listing scopes",
                "SELECT min(scope) FROM suppressions WHERE scope > ?",
                (scopes[-1],),
            )
        return scopes

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
        # Time filters are evaluated during the id-ordered scan on purpose: an index on ts would
        # tempt the planner into sorting every matching row for each page of a keyset walk.
        clauses = ["id > ?"]
        params: list[Any] = [after_id]
        if since is not None:
            clauses.append("ts >= ?")
            params.append(to_micros(since))
        if until is not None:
            clauses.append("ts < ?")
            params.append(to_micros(until))
        if number is not None:
            clauses.append("number = ?")
            params.append(number)
        if scope is not None:
            clauses.append("scope = ?")
            params.append(scope)
        if types is not None:
            wanted = sorted({EventType(t).value for t in types})
            if not wanted:
                self._get_reader()  # still refuse a closed store
                return []
            clauses.append(f"type IN ({', '.join('?' * len(wanted))})")
            params.extend(wanted)
        sql = f"SELECT {_EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = await self._fetch("reading events", sql, params)
        try:
            return [_event_from_row(row) for row in rows]
        except (ValueError, TypeError) as exc:  # e.g. an event type written by a newer release
            raise StoreError(f"unreadable event row: {exc}") from exc

    # -- change feed ---------------------------------------------------------------------------

    async def changes_since(self, after_id: int, limit: int = 10_000) -> list[Change]:
        check_limit(limit)
        rows = await self._fetch(
            "reading the change feed",
            "SELECT id, scope, number, suppressed FROM events INDEXED BY events_changes"
            " WHERE suppressed IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
            (after_id, limit),
        )
        return [Change(id_, scope, number, bool(flag)) for id_, scope, number, flag in rows]

    async def last_change_id(self) -> int:
        rows = await self._fetch(
            "reading the change feed",
            "SELECT max(id) FROM events INDEXED BY events_changes WHERE suppressed IS NOT NULL",
        )
        return int(rows[0][0] or 0)

    # -- report counters -----------------------------------------------------------------------

    async def add_sent_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        if not counts:
            return
        async with self._transaction("adding sent counts") as conn:
            await conn.executemany(
                "INSERT INTO sent_counts (day, scope, campaign, sent) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (day, scope, campaign) DO UPDATE SET sent = sent + excluded.sent",
                [(day, scope, campaign, n) for (day, scope, campaign), n in counts.items()],
            )

    async def record_last_campaigns(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        if not rows:
            return
        params = [(scope, number, campaign, to_micros(ts)) for scope, number, campaign, ts in rows]
        async with self._transaction("recording last campaigns") as conn:
            await conn.executemany(
                "INSERT INTO last_campaigns (scope, number, campaign, ts) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (scope, number) DO UPDATE"
                " SET campaign = excluded.campaign, ts = excluded.ts WHERE excluded.ts >= ts",
                params,
            )

    async def last_campaign(self, scope: str, number: str) -> str | None:
        rows = await self._fetch(
            "reading the last campaign",
            "SELECT campaign FROM last_campaigns WHERE scope = ? AND number = ?",
            (scope, number),
        )
        return str(rows[0][0]) if rows else None

    async def sent_counts(
        self, since_day: str | None = None, scope: str | None = None
    ) -> list[tuple[str, str, str, int]]:
        clauses: list[str] = []
        params: list[Any] = []
        if since_day is not None:
            clauses.append("day >= ?")
            params.append(since_day)
        if scope is not None:
            clauses.append("scope = ?")
            params.append(scope)
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        rows = await self._fetch(
            "reading sent counts",
            f"SELECT day, scope, campaign, sent FROM sent_counts {where}"
            " ORDER BY day, scope, campaign",
            params,
        )
        return [(day, sc, campaign, int(n)) for day, sc, campaign, n in rows]

    # -- health --------------------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Commit a heartbeat row, and verify the file on disk is still the one we opened."""
        if self._writer is None:
            raise StoreClosedError(f"store {self.path} is not open")
        with _translated("checking the database file"):
            identity = await anyio.to_thread.run_sync(_file_identity, self.path)
        if identity != self._identity:
            raise StoreError(f"{self.path} was replaced since the store opened it")
        async with self._transaction("write check") as conn:
            await conn.execute(
                "INSERT OR REPLACE INTO heartbeat (id, ts) VALUES (1, ?)", (to_micros(utcnow()),)
            )
