"""The SQLite reads of its own: the bulk load, the change feed and the console aggregates.

The reads both SQL backends share are in :mod:`gateway.store.sql.queries`. Each function runs its
statements as separate short reads on the read-only connection, so none waits behind a commit's fsync.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import date
from operator import itemgetter
from typing import Any

from gateway.store.model import Change, DayCount, EventType, Total, TotalBy
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


# -- console aggregates (tables kept by the triggers of migration 0007) --------------------------

_EPOCH_DAY = date(1970, 1, 1).toordinal()


def _day_number(day: date) -> int:
    return day.toordinal() - _EPOCH_DAY


async def daily_counts(db: Database, since: date, scope: str | None) -> list[DayCount]:
    where, params = _day_filter(since, scope)
    rows = await db.fetch(
        "reading daily counts",
        f"SELECT day, type, sum(events), sum(changes) FROM event_days {where}"
        " GROUP BY day, type ORDER BY day, type",
        params,
    )
    return [
        DayCount(date.fromordinal(day + _EPOCH_DAY), EventType(type_), int(n), int(changed))
        for day, type_, n, changed in rows
    ]


#: Where each grouping of :meth:`totals` is kept, and its column.
_TOTALS = {
    "channel": ("SELECT scope, type, channel, sum(events), sum(changes) FROM event_days", "type, channel"),
    "keyword": (
        "SELECT scope, 'opt_out', keyword, sum(events), sum(changes) FROM optout_keywords",
        "keyword",
    ),
    "campaign": (
        "SELECT scope, 'opt_out', campaign, sum(events), sum(changes) FROM optout_campaigns",
        "campaign",
    ),
}


async def totals(db: Database, by: TotalBy, since: date, scope: str | None) -> list[Total]:
    select, columns = _TOTALS[by]
    where, params = _day_filter(since, scope)
    rows = await db.fetch(f"reading totals by {by}", f"{select} {where} GROUP BY scope, {columns}", params)
    return [
        Total(sc, EventType(type_), value or None, int(n), int(changed))
        for sc, type_, value, n, changed in rows
    ]


async def sent_totals(db: Database, since_day: str, scope: str | None) -> list[tuple[str, str, int]]:
    clauses, params = ["day >= ?"], [since_day]
    if scope is not None:
        clauses.append("scope = ?")
        params.append(scope)
    rows = await db.fetch(
        "reading sent totals",
        f"SELECT scope, campaign, sum(sent) FROM sent_counts WHERE {' AND '.join(clauses)}"
        " GROUP BY scope, campaign ORDER BY scope, campaign",
        params,
    )
    return [(sc, campaign, int(n)) for sc, campaign, n in rows]


def _day_filter(since: date, scope: str | None) -> tuple[str, list[Any]]:
    if scope is None:
        return "WHERE day >= ?", [_day_number(since)]
    return "WHERE day >= ? AND scope = ?", [_day_number(since), scope]


async def suppression_count(db: Database, scope: str | None) -> int:
    if scope is None:
        rows = await db.fetch("counting suppressions", "SELECT sum(suppressed) FROM suppression_counts")
    else:
        rows = await db.fetch(
            "counting suppressions", "SELECT suppressed FROM suppression_counts WHERE scope = ?", (scope,)
        )
    return int(rows[0][0] or 0) if rows else 0


async def event_id_bounds(db: Database, since: date, until: date) -> tuple[int, int] | None:
    rows = await db.fetch(
        "reading event id bounds",
        "SELECT min(first_id), max(last_id) FROM event_days WHERE day >= ? AND day < ?",
        (_day_number(since), _day_number(until)),
    )
    low, high = rows[0]
    return None if low is None else (int(low), int(high))
