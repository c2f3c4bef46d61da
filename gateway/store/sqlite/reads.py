"""The SQLite reads of its own: the bulk load and the change feed.

The reads both SQL backends share are in :mod:`gateway.store.sql.queries`. Each function runs its
statements as separate short reads on the read-only connection, so none waits behind a commit's fsync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from operator import itemgetter

from gateway.store.model import Change
from gateway.store.sqlite.connection import Database

# -- the bulk load of the index ------------------------------------------------------------------


async def load_numbers(db: Database, batch: int) -> AsyncIterator[tuple[str, list[str]]]:
    # One scope at a time, selecting only the number column: sqlite3 then builds a 1-tuple
    # and one str per row instead of a 2-tuple and two strs, about twice as fast.
    for scope in await _scopes(db):
        last = ""
        while True:
            rows = await db.fetch(
                "loading suppressions",
                "SELECT number FROM suppressions WHERE scope = ? AND number > ? ORDER BY number LIMIT ?",
                (scope, last, batch),
            )
            numbers: list[str] = list(map(itemgetter(0), rows))
            if numbers:
                yield scope, numbers
            if len(numbers) < batch:
                break
            last = numbers[-1]


async def _scopes(db: Database) -> list[str]:
    """Distinct scopes via index seeks (a loose index scan), not a full table scan."""
    scopes: list[str] = []
    rows = await db.fetch("listing scopes", "SELECT min(scope) FROM suppressions")
    while rows and rows[0][0] is not None:
        scopes.append(rows[0][0])
        rows = await db.fetch(
            "listing scopes", "SELECT min(scope) FROM suppressions WHERE scope > ?", (scopes[-1],)
        )
    return scopes


# -- change feed ---------------------------------------------------------------------------------


async def changes_since(db: Database, after_id: int, limit: int) -> list[Change]:
    rows = await db.fetch(
        "reading the change feed",
        "SELECT id, scope, number, suppressed FROM events INDEXED BY events_changes"
        " WHERE suppressed IS NOT NULL AND id > ? ORDER BY id LIMIT ?",
        (after_id, limit),
    )
    return [Change(id_, scope, number, bool(flag)) for id_, scope, number, flag in rows]


async def last_change_id(db: Database) -> int:
    rows = await db.fetch(
        "reading the change feed",
        "SELECT max(id) FROM events INDEXED BY events_changes WHERE suppressed IS NOT NULL",
    )
    return int(rows[0][0] or 0)
