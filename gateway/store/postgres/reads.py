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
from typing import Final

from gateway.store.model import Change
from gateway.store.postgres.connection import Database

#: The rows of the change feed no running transaction can still add to.
_SETTLED = "xid < pg_snapshot_xmin(pg_current_snapshot())"
#: The feed position (xid, id) of the cursor event: the newest event with id <= the cursor.
_CURSOR = (
    "(SELECT coalesce((SELECT xid FROM events WHERE id <= %(after)s ORDER BY id DESC LIMIT 1),"
    " '0'::xid8) AS xid, %(after)s::bigint AS id)"
)


#: The scopes present: a loose index scan of the primary key (one probe per scope, not a table scan).
_SCOPES: Final = (
    b"WITH RECURSIVE s(scope) AS (SELECT min(scope) FROM suppressions UNION ALL"
    b" SELECT (SELECT min(scope) FROM suppressions WHERE scope > s.scope) FROM s WHERE s.scope IS NOT NULL)"
    b" SELECT scope FROM s WHERE scope IS NOT NULL"
)
_PAGE_ROWS: Final = (
    b"SELECT number FROM suppressions WHERE scope = %s AND number > %s ORDER BY number LIMIT %s"
)
#: One page of a scope's numbers joined into one string on the server. The aggregate takes the
#: rows in the sorted subquery's order rather than sorting them again (``string_agg(... ORDER BY)``
#: re-sorts every page: two thirds of the server's time); :func:`load_numbers` makes sure of the order.
_PAGE: Final = b"SELECT string_agg(number, E'\\n'), max(number), count(*) FROM (" + _PAGE_ROWS + b") page"


async def load_numbers(db: Database, batch: int) -> AsyncIterator[tuple[str, list[str]]]:
    """Every (scope, numbers) chunk, from one read-only snapshot, scope by scope, page by page.

    Each page arrives as one string joined on the server and split here: psycopg then makes one
    Python object per page rather than one or more per row (``COPY ... TO STDOUT`` too yields a
    block per row). The next page is requested (pipeline mode) before this one is handed on, so
    the server reads it while the caller builds its index from this one: two cores, not one.
    """
    async with db.connection("loading suppressions") as conn, conn.transaction():
        await conn.execute(b"SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        scopes = [str(row[0]) for row in await (await conn.execute(_SCOPES)).fetchall()]
        async with conn.pipeline():
            pending = iter(scopes)
            scope, after = next(pending, None), ""
            page = await conn.execute(_PAGE, (scope, after, batch)) if scope is not None else None
            while page is not None and scope is not None:
                row = await page.fetchone()
                joined, last, count = row if row is not None else (None, None, 0)
                numbers = str(joined).split("\n") if count else []
                if len(numbers) != count:  # a number holding a line break: this page row by row
                    cur = await conn.execute(_PAGE_ROWS, (scope, after, batch))
                    numbers = [str(r[0]) for r in await cur.fetchall()]
                numbers.sort()  # in order already (a linear check then), whatever the plan
                chunk = scope, numbers
                if count == batch:
                    after = str(last)
                else:  # the scope's last page: on to the next scope
                    scope, after = next(pending, None), ""
                page = await conn.execute(_PAGE, (scope, after, batch)) if scope is not None else None
                if numbers:
                    yield chunk


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
