"""The console's counts on both SQL backends: reads of the tables migration 0007's triggers keep, and
the times to honour read from migration 0009's partial index ``events_honour``.

PostgreSQL spreads a day over up to 16 shard rows (see its migration 0007), so every query sums; a
365-day overview reads at most a few thousand rows whatever the size of the log. Times to honour are
the newest SMS opt-outs of a period, bounded and ranked in SQL: the cost does not grow with the log,
and only four numbers leave the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.store.model import DayCount, EventType, HonourTimes, Total, TotalBy
from gateway.store.rows import to_micros
from gateway.store.sql.dialect import Dialect
from gateway.store.sql.ports import SQLDatabase

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


def _day_filter(d: Dialect, since: date, scope: str | None) -> tuple[str, list[Any]]:
    if scope is None:
        return f"WHERE day >= {d.param}", [day_number(since)]
    return f"WHERE day >= {d.param} AND scope = {d.param}", [day_number(since), scope]


async def daily_counts(db: SQLDatabase[Any], d: Dialect, since: date, scope: str | None) -> list[DayCount]:
    where, params = _day_filter(d, since, scope)
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


async def totals(
    db: SQLDatabase[Any], d: Dialect, by: TotalBy, since: date, scope: str | None
) -> list[Total]:
    select, columns = _TOTALS[by]
    where, params = _day_filter(d, since, scope)
    rows = await db.fetch(f"reading totals by {by}", f"{select} {where} GROUP BY scope, {columns}", params)
    return [
        Total(sc, EventType(type_), value or None, int(n), int(changed))
        for sc, type_, value, n, changed in rows
    ]


async def sent_totals(
    db: SQLDatabase[Any], d: Dialect, since_day: str, scope: str | None
) -> list[tuple[str, str, int]]:
    clauses, params = [f"day >= {d.param}"], [since_day]
    if scope is not None:
        clauses.append(f"scope = {d.param}")
        params.append(scope)
    rows = await db.fetch(
        "reading sent totals",
        f"SELECT scope, campaign, sum(sent) FROM sent_counts WHERE {' AND '.join(clauses)}"
        " GROUP BY scope, campaign ORDER BY scope, campaign",
        params,
    )
    return [(sc, campaign, int(n)) for sc, campaign, n in rows]


async def suppression_count(db: SQLDatabase[Any], d: Dialect, scope: str | None) -> int:
    if scope is None:
        rows = await db.fetch("counting suppressions", "SELECT sum(suppressed) FROM suppression_counts")
    else:
        rows = await db.fetch(
            "counting suppressions",
            f"SELECT sum(suppressed) FROM suppression_counts WHERE scope = {d.param}",
            (scope,),
        )
    return int(rows[0][0] or 0)


async def event_id_bounds(
    db: SQLDatabase[Any], d: Dialect, since: date, until: date
) -> tuple[int, int] | None:
    rows = await db.fetch(
        "reading event id bounds",
        f"SELECT min(first_id), max(last_id) FROM event_days WHERE day >= {d.param} AND day < {d.param}",
        (day_number(since), day_number(until)),
    )
    low, high = rows[0]
    return None if low is None else (int(low), int(high))


#: Count, nearest-rank p50 and p99 (``ceil(p * n)``, in integers as :meth:`HonourTimes.of`) and the
#: slowest of the ranked delays (microseconds; clock skew counts as 0).
_RANKED = (
    "WITH newest AS (SELECT {greatest}(ts - received_at, 0) AS d FROM events{hint}"
    " WHERE {where} ORDER BY ts DESC LIMIT {p}),"
    " ranked AS (SELECT d, row_number() OVER (ORDER BY d) AS rn, count(*) OVER () AS n FROM newest)"
    " SELECT max(n), max(CASE WHEN rn = (n + 1) / 2 THEN d END),"
    " max(CASE WHEN rn = (99 * n + 99) / 100 THEN d END), max(d) FROM ranked"
)


async def honour_times(
    db: SQLDatabase[Any], d: Dialect, since: date, scope: str | None, limit: int
) -> HonourTimes | None:
    clauses = ["type = 'opt_out'", "received_at IS NOT NULL", f"ts >= {d.param}"]
    params: list[Any] = [to_micros(datetime.combine(since, time(), UTC))]
    if scope is not None:
        clauses.append(f"scope = {d.param}")
        params.append(scope)
    sql = _RANKED.format(
        greatest=d.greatest, hint=d.indexed_by("events_honour"), where=" AND ".join(clauses), p=d.param
    )
    rows = await db.fetch("reading times to honour", sql, (*params, limit))
    n, p50, p99, slowest = rows[0]
    return None if not n else HonourTimes(int(n), p50 / 1e6, p99 / 1e6, slowest / 1e6)
