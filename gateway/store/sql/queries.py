"""The reads every SQL backend runs alike: suppressions, events, report counters, receipt routes.

Written once against a :class:`~gateway.store.sql.dialect.Dialect` (the placeholder spelling); the
reads whose SQL or strategy differs (bulk load, change feed) stay in each backend's ``reads``
module; the console's are in :mod:`.aggregates`. Pagination is by key ranges the primary keys and
indexes serve directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gateway.store.model import Event, EventType, StoreError, Suppression
from gateway.store.rows import (
    EVENT_COLUMNS,
    SUPPRESSION_COLUMNS,
    event_from_row,
    suppression_from_row,
    to_micros,
)
from gateway.store.sql.dialect import Dialect
from gateway.store.sql.ports import Connection, SQLDatabase

# -- suppressions --------------------------------------------------------------------------------


async def get_suppression(db: SQLDatabase[Any], d: Dialect, scope: str, number: str) -> Suppression | None:
    p = d.param
    rows = await db.fetch(
        "reading a suppression",
        f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions WHERE scope = {p} AND number = {p}",
        (scope, number),
    )
    return suppression_from_row(rows[0]) if rows else None


async def list_suppressions(
    db: SQLDatabase[Any], d: Dialect, scope: str | None, after: tuple[str, str] | None, limit: int
) -> list[Suppression]:
    p = d.param
    clauses: list[str] = []
    params: list[Any] = []
    if scope is None:
        if after is not None:
            clauses.append(f"(scope, number) > ({p}, {p})")
            params.extend(after)
    else:
        # Spelled out so the primary key range is used: "scope = ? AND (scope, number) > ..."
        # would make SQLite scan the scope from its start for every page.
        if after is not None and after[0] > scope:
            db.check_open()  # still refuse a closed store
            return []
        clauses.append(f"scope = {p}")
        params.append(scope)
        if after is not None and after[0] == scope:
            clauses.append(f"number > {p}")
            params.append(after[1])
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetch(
        "listing suppressions",
        f"SELECT {SUPPRESSION_COLUMNS} FROM suppressions {where} ORDER BY scope, number LIMIT {p}",
        (*params, limit),
    )
    return [suppression_from_row(row) for row in rows]


# -- events --------------------------------------------------------------------------------------


async def events(
    db: SQLDatabase[Any],
    d: Dialect,
    *,
    since: datetime | None,
    until: datetime | None,
    number: str | None,
    types: Sequence[EventType] | None,
    scope: str | None,
    after_id: int,
    limit: int | None,
) -> list[Event]:
    # Time filters are evaluated during the id-ordered scan on purpose: an index on ts would
    # tempt the planner into sorting every matching row for each page of a keyset walk.
    p = d.param
    clauses = [f"id > {p}"]
    params: list[Any] = [after_id]
    if since is not None:
        clauses.append(f"ts >= {p}")
        params.append(to_micros(since))
    if until is not None:
        clauses.append(f"ts < {p}")
        params.append(to_micros(until))
    if number is not None:
        clauses.append(f"number = {p}")
        params.append(number)
    if scope is not None:
        clauses.append(f"scope = {p}")
        params.append(scope)
    if types is not None:
        wanted = sorted({EventType(t).value for t in types})
        if not wanted:
            db.check_open()  # still refuse a closed store
            return []
        clause, values = d.any_of("type", wanted)
        clauses.append(clause)
        params.extend(values)
    sql = f"SELECT {EVENT_COLUMNS} FROM events WHERE {' AND '.join(clauses)} ORDER BY id"
    if limit is not None:
        sql += f" LIMIT {p}"
        params.append(limit)
    rows = await db.fetch("reading events", sql, params)
    try:
        return [event_from_row(row) for row in rows]
    except (ValueError, TypeError) as exc:  # e.g. an event type written by a newer release
        raise StoreError(f"unreadable event row: {exc}") from exc


# -- report counters -----------------------------------------------------------------------------


async def last_campaign(db: SQLDatabase[Any], d: Dialect, scope: str, number: str) -> str | None:
    p = d.param
    rows = await db.fetch(
        "reading the last campaign",
        f"SELECT campaign FROM last_campaigns WHERE scope = {p} AND number = {p}",
        (scope, number),
    )
    return str(rows[0][0]) if rows else None


async def sent_counts(
    db: SQLDatabase[Any], d: Dialect, since_day: str | None, scope: str | None
) -> list[tuple[str, str, str, int]]:
    p = d.param
    clauses: list[str] = []
    params: list[Any] = []
    if since_day is not None:
        clauses.append(f"day >= {p}")
        params.append(since_day)
    if scope is not None:
        clauses.append(f"scope = {p}")
        params.append(scope)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = await db.fetch(
        "reading sent counts",
        f"SELECT day, scope, campaign, sent FROM sent_counts {where} ORDER BY day, scope, campaign",
        params,
    )
    return [(day, sc, campaign, int(n)) for day, sc, campaign, n in rows]


# -- receipt routes ------------------------------------------------------------------------------


async def receipt_route(
    db: SQLDatabase[Any], d: Dialect, upstream: str, message_id: str, now: datetime
) -> tuple[str, str] | None:
    p = d.param
    rows = await db.fetch(
        "reading a receipt route",
        "SELECT account, session FROM receipt_routes"
        f" WHERE upstream = {p} AND message_id = {p} AND expires_at > {p}",
        (upstream, message_id, to_micros(now)),
    )
    return (str(rows[0][0]), str(rows[0][1])) if rows else None


async def purge_receipt_routes(conn: Connection, d: Dialect, now: datetime) -> int:
    """The body of the write transaction that forgets the routes expired at ``now``; how many."""
    cursor = await conn.execute(
        f"DELETE FROM receipt_routes WHERE expires_at <= {d.param}", (to_micros(now),)
    )
    return cursor.rowcount
