"""The connections to one SQLite file and the rules for using them.

One writer, its transactions serialised by an in-process lock and shielded from cancellation once
begun (a started commit always finishes); one read-only reader, so reads never wait behind a
commit's fsync; extra short-lived connections for bulk imports. Every connection runs in WAL mode
with ``synchronous=FULL`` and waits up to ``busy_timeout`` for other processes' writers.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import aiosqlite
import anyio

from gateway.store.model import StoreClosedError, StoreError
from gateway.store.sqlite.files import align_sidecars, file_identity, prepare_file
from gateway.store.sqlite.schema import migrate

_PRAGMA_NAME = re.compile(r"[a-z_]+")
_PRAGMA_WORD = re.compile(r"-?[A-Za-z0-9_]+")
#: Pragmas the store owns: durability and locking must not be configurable by accident.
_RESERVED_PRAGMAS = frozenset({"journal_mode", "synchronous", "foreign_keys", "busy_timeout"})
#: The name SQLite gives a private in-memory database; the store needs a file others can share.
_IN_MEMORY = ":memory:"


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn sqlite3 / aiosqlite / OS errors into :class:`StoreError`, cause chained."""
    try:
        yield
    except StoreError:
        raise
    except (sqlite3.Error, OSError) as exc:
        raise StoreError(f"{action} failed: {exc}") from exc


def checked_pragmas(pragmas: Mapping[str, int | str] | None) -> dict[str, int | str]:
    """``pragmas`` as a dict, or ValueError for a malformed or store-owned one."""
    checked = dict(pragmas or {})
    for name, value in checked.items():
        if (
            not _PRAGMA_NAME.fullmatch(name)
            or not _PRAGMA_WORD.fullmatch(str(value))
            or name in _RESERVED_PRAGMAS
        ):
            raise ValueError(f"unsupported pragma {name}={value!r}")
    return checked


class Database:
    """The writer, the reader and the write lock of one SQLite file."""

    def __init__(self, path: Path, busy_timeout: float, pragmas: Mapping[str, int | str]) -> None:
        self.path = path
        self.busy_timeout = busy_timeout
        self.pragmas = dict(pragmas)
        self.writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self.write_lock = anyio.Lock()
        self._identity: tuple[int, int] | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        """Create / migrate the file and connect; a no-op when open."""
        if self.writer is not None:
            return
        if str(self.path) == _IN_MEMORY:
            raise StoreError(
                f"cannot open the store at {str(self.path)!r}: SQLite would make a private"
                " in-memory database, but the store needs a file (WAL journal, shared with the CLI)"
            )
        writer: aiosqlite.Connection | None = None
        reader: aiosqlite.Connection | None = None
        try:
            with translated(f"opening {self.path}"):
                await anyio.to_thread.run_sync(prepare_file, self.path)
                writer = await self.connect()
                await self._enable_wal(writer)
                await migrate(writer, self.path)
                await self.apply_pragmas(writer)
                reader = await self.connect()
                await reader.execute("PRAGMA query_only = ON")
                await self.apply_pragmas(reader)
                await anyio.to_thread.run_sync(align_sidecars, self.path)
                self._identity = await anyio.to_thread.run_sync(file_identity, self.path)
        except BaseException:
            with anyio.CancelScope(shield=True):
                for conn in (reader, writer):
                    if conn is not None:
                        with contextlib.suppress(Exception):
                            await conn.close()
            raise
        self.writer, self._reader = writer, reader

    async def close(self) -> None:
        """Close both connections once a running transaction has finished; idempotent."""
        writer, reader = self.writer, self._reader
        if writer is None or reader is None:
            return
        with anyio.CancelScope(shield=True):
            async with self.write_lock:  # let a running transaction finish
                self.writer = self._reader = None
                with translated("closing the store"):
                    try:
                        await reader.close()
                    finally:
                        await writer.close()

    async def connect(self) -> aiosqlite.Connection:
        """A new connection with the store's durability and locking settings (not ``pragmas``)."""
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
                    raise StoreError(
                        f"{self.path}: cannot enable WAL journal mode (SQLite answered {mode!r});"
                        " the store needs it for durable commits that readers do not block"
                    )
                return

    async def apply_pragmas(self, conn: aiosqlite.Connection) -> None:
        """Apply the caller's tuning pragmas to ``conn``."""
        for name, value in self.pragmas.items():
            await conn.execute(f"PRAGMA {name} = {value}")

    # -- using the connections -----------------------------------------------------------------

    def reader(self) -> aiosqlite.Connection:
        """The read-only connection; :class:`StoreClosedError` when the store is not open."""
        if self._reader is None:
            raise StoreClosedError(f"store {self.path} is not open")
        return self._reader

    def check_open(self) -> None:
        """:class:`StoreClosedError` unless the store is open."""
        if self.writer is None:
            raise StoreClosedError(f"store {self.path} is not open")

    async def fetch(self, action: str, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        """The rows of one query on the reader; failures are :class:`StoreError` naming ``action``."""
        conn = self.reader()
        with translated(action):
            return list(await conn.execute_fetchall(sql, params))

    @contextlib.asynccontextmanager
    async def locked(self, action: str) -> AsyncIterator[None]:
        """Hold the in-process write lock, waiting at most ``busy_timeout`` like SQLite would."""
        with anyio.move_on_after(self.busy_timeout) as waiting:
            await self.write_lock.acquire()
        if waiting.cancelled_caught:
            raise StoreError(f"{action} failed: store busy for more than {self.busy_timeout} s")
        try:
            yield
        finally:
            self.write_lock.release()

    @contextlib.asynccontextmanager
    async def transaction(self, action: str) -> AsyncIterator[aiosqlite.Connection]:
        """BEGIN IMMEDIATE ... COMMIT on the writer; shielded once the lock is held."""
        async with self.locked(action):
            conn = self.writer
            if conn is None:
                raise StoreClosedError(f"store {self.path} is not open")
            with anyio.CancelScope(shield=True), translated(action):
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

    async def check_identity(self) -> None:
        """:class:`StoreError` if the file on disk is no longer the one this store opened."""
        self.check_open()
        with translated("checking the database file"):
            identity = await anyio.to_thread.run_sync(file_identity, self.path)
        if identity != self._identity:
            raise StoreError(f"{self.path} was replaced since the store opened it")
