"""The PostgreSQL reads of its own: the bulk load and the commit-safe change feed.

The reads both SQL backends share are in :mod:`gateway.store.sql.queries`; these run in autocommit.

The change feed is read in (xid, id) order, xid being the writing transaction's xid8, and only rows
whose xid is below ``pg_snapshot_xmin(pg_current_snapshot())``: every transaction with a smaller xid
has ended, so no row can appear later behind the cursor, whatever order the transactions committed
in. A transaction still open holds the feed back; it never skips. The cursor stays an event id (the
events are never deleted): the feed continues after that event's (xid, id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from gateway.store.model import Change
from gateway.store.postgres.connection import Database

#: The rows of the change feed no running transaction can still add to.
_SETTLED = "xid < pg_snapshot_xmin(pg_current_snapshot())"
#: The feed position (xid, id) of the cursor event: the newest event with id <= the cursor.
_CURSOR = (
    "(SELECT coalesce((SELECT xid FROM events WHERE id <= %(after)s ORDER BY id DESC LIMIT 1),"
    " '0'::xid8) AS xid, %(after)s::bigint AS id)"
)


async def load_numbers(db: Database, batch: int) -> AsyncIterator[tuple[str, list[str]]]:
    """Every (scope, numbers) chunk from one server-side cursor (one snapshot, no re-seeks)."""
    async with (
        db.connection("loading suppressions") as conn,
        conn.transaction(),
        conn.cursor(name="stopgate_load") as cur,
    ):
        await cur.execute("SELECT scope, number FROM suppressions ORDER BY scope, number")
        scope: str | None = None
        numbers: list[str] = []
        while rows := await cur.fetchmany(batch):
            for row_scope, number in rows:
                if row_scope != scope or len(numbers) >= batch:
                    if numbers:
                        assert scope is not None
                        yield scope, numbers
                    scope, numbers = row_scope, []
                numbers.append(number)
        if numbers:
            assert scope is not None
            yield scope, numbers


async def changes_since(db: Database, after: int, limit: int) -> list[Change]:
    rows = await db.fetch(
        "reading the change feed",
        f"SELECT e.id, e.scope, e.number, e.suppressed FROM events AS e, {_CURSOR} AS c"
        f" WHERE e.suppressed IS NOT NULL AND (e.xid, e.id) > (c.xid, c.id) AND e.{_SETTLED}"
        " ORDER BY e.xid, e.id LIMIT %(limit)s",
        {"after": after, "limit": limit},
    )
    return [Change(id_, scope, number, bool(flag)) for id_, scope, number, flag in rows]


async def last_change_id(db: Database) -> int:
    rows = await db.fetch(
        "reading the change feed",
        f"SELECT id FROM events WHERE suppressed IS NOT NULL AND {_SETTLED}"
        " ORDER BY xid DESC, id DESC LIMIT 1",
    )
    return int(rows[0][0]) if rows else 0


async def snapshot_bound(db: Database, which: str) -> int:
    """``pg_snapshot_xmax`` (next xid) or ``pg_snapshot_xmin`` (oldest running) of a snapshot now."""
    function = {"xmax": "pg_snapshot_xmax", "xmin": "pg_snapshot_xmin"}[which]
    rows = await db.fetch("reading the feed horizon", f"SELECT {function}(pg_current_snapshot())::text")
    return int(rows[0][0])
