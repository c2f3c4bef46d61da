"""Moving a deployment: copying an SQLite store into an empty PostgreSQL one, verifiably.

Every table is read from one SQLite read transaction (a consistent snapshot, WAL lets the proxy keep
writing meanwhile) and written with COPY in one PostgreSQL transaction, event ids kept. A SHA-256
over each table's rows in key order, in one canonical form, is computed from the source while copying
and from the destination read back after the commit; :class:`CopyReport` holds both sides.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from gateway.store.model import StoreError
from gateway.store.postgres.connection import Database, translated
from gateway.store.postgres.maintenance import vacuum_suppressions
from gateway.store.postgres.writes import CHANNEL, FEED_LOCK
from gateway.store.sqlite import migrations as sqlite_migrations

#: (table, columns, key order) copied, in this order (events first: suppressions refer to them).
TABLES: tuple[tuple[str, str, str], ...] = (
    (
        "events",
        "id, ts, type, scope, number, channel, account, keyword, text, message_ids, reason,"
        " campaign, operator, address, received_at, suppressed",
        "id",
    ),
    ("suppressions", "scope, number, since, channel, keyword, reason, event_id", "scope, number"),
    ("sent_counts", "day, scope, campaign, sent", "day, scope, campaign"),
    ("last_campaigns", "scope, number, campaign, ts", "scope, number"),
    # So that a moved deployment does not footer everyone again (footer_mode = "first_in_days").
    ("footers_sent", "scope, number, sent_at", "scope, number"),
)
_BATCH = 10_000


@dataclass
class TableSum:
    """Row count and checksum of one table."""

    rows: int = 0
    digest: Any = field(default_factory=hashlib.sha256)

    def add(self, row: tuple[Any, ...]) -> None:
        self.rows += 1
        self.digest.update(json.dumps(list(row), separators=(",", ":")).encode())
        self.digest.update(b"\n")

    @property
    def checksum(self) -> str:
        return str(self.digest.hexdigest())


@dataclass
class CopyReport:
    """Per table: (rows, checksum) read from the source and from the destination."""

    source: dict[str, tuple[int, str]]
    destination: dict[str, tuple[int, str]]

    @property
    def matches(self) -> bool:
        return self.source == self.destination


def _sqlite_batches(path: Path) -> Iterator[tuple[str, list[tuple[Any, ...]]]]:
    """(table, rows) batches of every table, from one read transaction on ``path``."""
    if not path.is_file():
        raise StoreError(f"{path}: no such SQLite store")
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        conn.execute("BEGIN")
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version != len(sqlite_migrations()):
            raise StoreError(
                f"{path} has schema version {version}; open it once with this release first"
            )
        for table, columns, order in TABLES:
            cur = conn.execute(f"SELECT {columns} FROM {table} ORDER BY {order}")
            while rows := cur.fetchmany(_BATCH):
                yield table, rows
        conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise StoreError(f"reading {path} failed: {exc}") from exc
    finally:
        conn.close()


async def _sums(db: Database) -> dict[str, tuple[int, str]]:
    """Count and checksum every table of the destination, in the same form as the source."""
    sums: dict[str, tuple[int, str]] = {}
    async with db.connection("verifying the copy") as conn, conn.transaction():
        for table, columns, order in TABLES:
            total = TableSum()
            async with conn.cursor(name=f"stopgate_verify_{table}") as cur:
                await cur.execute(f"SELECT {columns} FROM {table} ORDER BY {order}".encode())
                while rows := await cur.fetchmany(_BATCH):
                    for row in rows:
                        total.add(row)
            sums[table] = (total.rows, total.checksum)
    return sums


async def copy_sqlite_to_postgres(source: Path, db: Database) -> CopyReport:
    """Copy the store at ``source`` into the (open, migrated, empty) database ``db``."""
    sums = {table: TableSum() for table, _, _ in TABLES}
    batches = _sqlite_batches(source)
    done = object()
    async with db.connection("copying the store") as conn:
        with translated("copying the store"):
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock(%s, 0)", (FEED_LOCK,))
                for table, _, _ in TABLES:
                    cur = await conn.execute(f"SELECT count(*) FROM {table}".encode())
                    row = await cur.fetchone()
                    if row and row[0]:
                        raise StoreError(
                            f"the destination already has {row[0]} rows in {table}; "
                            "copy needs an empty database"
                        )
                while (item := await anyio.to_thread.run_sync(next, batches, done)) is not done:
                    assert isinstance(item, tuple)
                    table, rows = item
                    columns = dict((t, c) for t, c, _ in TABLES)[table]
                    async with conn.cursor() as cur, cur.copy(
                        f"COPY {table} ({columns}) FROM STDIN".encode()
                    ) as copy:
                        for values in rows:
                            sums[table].add(values)
                            await copy.write_row(values)
                await conn.execute(
                    "SELECT setval('events_id_seq', greatest((SELECT max(id) FROM events), 1),"
                    " (SELECT max(id) FROM events) IS NOT NULL)"
                )
                await conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))
        await vacuum_suppressions(conn)
    source_sums = {table: (s.rows, s.checksum) for table, s in sums.items()}
    return CopyReport(source_sums, await _sums(db))


