"""The console's counts on PostgreSQL: reads of the tables migration 0007's triggers keep.

Each table spreads a day over up to 16 shard rows (see the migration), so every query sums; a 365-day
overview reads at most a few thousand rows whatever the size of the log. Times to honour come from
migration 0009's partial index ``events_honour``, newest first and bounded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.store.model import DayCount, EventType, Total, TotalBy
from gateway.store.postgres.connection import Database
from gateway.store.rows import to_micros

_EPOCH_DAY = date(1970, 1, 1).toordinal()

#: Where each grouping of :func:`totals` is kept, and its grouping columns.
_TOTALS: dict[str, tuple[str, str]] = {
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


def day_number(day: date) -> int:
    """Days since 1970-01-01, as the tables key them."""
    return day.toordinal() - _EPOCH_DAY


def _day_filter(since: date, scope: str | None) -> tuple[str, list[Any]]:
    if scope is None:
        return "WHERE day >= %s", [day_number(since)]
    return "WHERE day >= %s AND scope = %s", [day_number(since), scope]


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


async def totals(db: Database, by: TotalBy, since: date, scope: str | None) -> list[Total]:
    select, columns = _TOTALS[by]
    where, params = _day_filter(since, scope)
    rows = await db.fetch(f"reading totals by {by}", f"{select} {where} GROUP BY scope, {columns}", params)
    return [
        Total(sc, EventType(type_), value or None, int(n), int(changed))
        for sc, type_, value, n, changed in rows
    ]


async def sent_totals(db: Database, since_day: str, scope: str | None) -> list[tuple[str, str, int]]:
    clauses, params = ["day >= %s"], [since_day]
    if scope is not None:
        clauses.append("scope = %s")
        params.append(scope)
    rows = await db.fetch(
        "reading sent totals",
        f"SELECT scope, campaign, sum(sent) FROM sent_counts WHERE {' AND '.join(clauses)}"
        " GROUP BY scope, campaign ORDER BY scope, campaign",
        params,
    )
    return [(sc, campaign, int(n)) for sc, campaign, n in rows]


async def suppression_count(db: Database, scope: str | None) -> int:
    if scope is None:
        rows = await db.fetch("counting suppressions", "SELECT sum(suppressed) FROM suppression_counts")
    else:
        rows = await db.fetch(
            "counting suppressions",
            "SELECT sum(suppressed) FROM suppression_counts WHERE scope = %s",
            (scope,),
        )
    return int(rows[0][0] or 0)


async def event_id_bounds(db: Database, since: date, until: date) -> tuple[int, int] | None:
    rows = await db.fetch(
        "reading event id bounds",
        "SELECT min(first_id), max(last_id) FROM event_days WHERE day >= %s AND day < %s",
        (day_number(since), day_number(until)),
    )
    low, high = rows[0]
    return None if low is None else (int(low), int(high))


async def honour_delays(db: Database, since: date, scope: str | None, limit: int) -> list[float]:
    clauses = ["type = 'opt_out'", "received_at IS NOT NULL", "ts >= %s"]
    params: list[Any] = [to_micros(datetime.combine(since, time(), UTC))]
    if scope is not None:
        clauses.append("scope = %s")
        params.append(scope)
    rows = await db.fetch(
        "reading times to honour",
        f"SELECT ts - received_at FROM events WHERE {' AND '.join(clauses)} ORDER BY ts DESC LIMIT %s",
        (*params, limit),
    )
    return [delay / 1e6 for (delay,) in rows]
