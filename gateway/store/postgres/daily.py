"""The console's counts on PostgreSQL: reads of the tables migration 0007's triggers keep.

Each table spreads a day over up to 16 shard rows (see the migration), so every query sums; a 365-day
overview reads at most a few thousand rows whatever the size of the log. Times to honour come from
migration 0009's partial index ``events_honour``, newest first, bounded and ranked in SQL.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.store.model import DayCount, EventType, HonourTimes, Total, TotalBy
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


#: Count, nearest-rank p50 and p99 (``ceil(p * n)``, in integers as :meth:`HonourTimes.of`) and the
#: slowest of the ranked delays (microseconds; clock skew counts as 0), read from ``events_honour``.
_RANKED = (
    "WITH newest AS (SELECT greatest(ts - received_at, 0) AS d FROM events"
    " WHERE {where} ORDER BY ts DESC LIMIT %s),"
    " ranked AS (SELECT d, row_number() OVER (ORDER BY d) AS rn, count(*) OVER () AS n FROM newest)"
    " SELECT max(n), max(CASE WHEN rn = (n + 1) / 2 THEN d END),"
    " max(CASE WHEN rn = (99 * n + 99) / 100 THEN d END), max(d) FROM ranked"
)


async def honour_times(db: Database, since: date, scope: str | None, limit: int) -> HonourTimes | None:
    clauses = ["type = 'opt_out'", "received_at IS NOT NULL", "ts >= %s"]
    params: list[Any] = [to_micros(datetime.combine(since, time(), UTC))]
    if scope is not None:
        clauses.append("scope = %s")
        params.append(scope)
    rows = await db.fetch(
        "reading times to honour", _RANKED.format(where=" AND ".join(clauses)), (*params, limit)
    )
    n, p50, p99, slowest = rows[0]
    return None if not n else HonourTimes(int(n), p50 / 1e6, p99 / 1e6, slowest / 1e6)
