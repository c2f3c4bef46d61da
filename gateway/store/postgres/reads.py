"""The read side: autocommit queries for suppressions, events, the change feed and counters.

The change feed is read in (xid, id) order, xid being the writing transaction's xid8, and only rows
whose xid is below ``pg_snapshot_xmin(pg_current_snapshot())``: every transaction with a smaller xid
has ended, so no row can appear later behind the cursor, whatever order the transactions committed
in. A transaction still open holds the feed back; it never skips. The cursor stays an event id (the
events are never deleted): the feed continues after that event's (xid, id).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from datetime import datetime
from typing import Any

from gateway.store.model import Change, Event, EventType, StoreError, Suppression
from gateway.store.postgres.connection import Database
from gateway.store.rows import (
    EVENT_COLUMNS,
    SUPPRESSION_COLUMNS,
    event_from_row,
    suppression_from_row,
    to_micros,
)

#: The rows of the change feed no running transaction can still add to.
_SETTLED = "xid < pg_snapshot_xmin(pg_current_snapshot())"
#: The feed position (xid, id) of the cursor event: the newest event with id <= the cursor.
_CURSOR = (
    "(SELECT coalesce((SELECT xid FROM events WHERE id <= %(after)s ORDER BY id DESC LIMIT 1),"
    " '0'::xid8) AS xid, %(after)s::bigint AS id)"
)


async def get_suppression(db: Database, scope: str, number: str) -> Suppression | None:
    rows = await db.fetch(
        "reading a suppression",
        f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE scope = %s AND number = %s",
        (scope, number),
    )
    return suppression_from_row(rows[0]) if rows else None


async def list_suppressions(
    db: Database, scope: str | None, after: tuple[str, str] | None, limit: int
) -> list[Suppression]:
    clauses: list[str] = []
    params: list[Any] = []
    if scope is not None:
        clauses.append("scope = %s")
        params.append(scope)
    if after is not None:
        clauses.append("(scope, number) > (%s, %s)")
        params.extend(after)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetch(
        "listing suppressions",
        f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions {where}"
        " ORDER BY scope, number LIMIT %s",
        (*params, limit),
    )
    return [suppression_from_row(row) for row in rows]


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


async def events(
    db: Database,
    *,
    since: datetime | None,
    until: datetime | None,
    number: str | None,
    types: Sequence[EventType] | None,
    scope: str | None,
    after_id: int,
    limit: int | None,
) -> list[Event]:
    clauses = ["id > %s"]
    params: list[Any] = [after_id]
    if since is not None:
        clauses.append("ts >= %s")
        params.append(to_micros(since))
    if until is not None:
        clauses.append("ts < %s")
        params.append(to_micros(until))
    if number is not None:
        clauses.append("number = %s")
        params.append(number)
    if scope is not None:
        clauses.append("scope = %s")
        params.append(scope)
    if types is not None:
        wanted = sorted({EventType(t).value for t in types})
        if not wanted:
            db.check_open()
            return []
        clauses.append("type = ANY(%s)")
        params.append(wanted)
    query = f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY id"
    if limit is not None:
        query += " LIMIT %s"
        params.append(limit)
    rows = await db.fetch("reading events", query, params)
    try:
        return [event_from_row(row) for row in rows]
    except (ValueError, TypeError) as exc:
        raise StoreError(f"unreadable event row: {exc}") from exc


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


async def last_campaign(db: Database, scope: str, number: str) -> str | None:
    rows = await db.fetch(
        "reading the last campaign",
        "SELECT campaign FROM last_campaigns WHERE scope = %s AND number = %s",
        (scope, number),
    )
    return str(rows[0][0]) if rows else None


async def sent_counts(
    db: Database, since_day: str | None, scope: str | None
) -> list[tuple[str, str, str, int]]:
    clauses: list[str] = []
    params: list[Any] = []
    if since_day is not None:
        clauses.append("day >= %s")
        params.append(since_day)
    if scope is not None:
        clauses.append("scope = %s")
        params.append(scope)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetch(
        "reading sent counts",
        f"SELECT day, scope, campaign, sent FROM sent_counts {where} ORDER BY day, scope, campaign",
        params,
    )
    return [(day, sc, campaign, int(n)) for day, sc, campaign, n in rows]


