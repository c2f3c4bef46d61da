"""Time to honour on SQLite: how long the newest SMS opt-outs of a period took, MO arrival to commit.

Read from migration 0009's partial index ``events_honour`` (only SMS opt-outs with an arrival time, in
``ts`` order, covering the columns read), newest first and bounded, and ranked inside SQLite: the
cost does not grow with the log, and only four numbers leave the database.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.store.model import HonourTimes
from gateway.store.rows import to_micros
from gateway.store.sqlite.connection import Database

#: Count, nearest-rank p50 and p99 (``ceil(p * n)``, in integers as :meth:`HonourTimes.of`) and the
#: slowest of the ranked delays (microseconds; clock skew counts as 0).
_RANKED = (
    "WITH newest AS (SELECT max(ts - received_at, 0) AS d FROM events INDEXED BY events_honour"
    " WHERE {where} ORDER BY ts DESC LIMIT ?),"
    " ranked AS (SELECT d, row_number() OVER (ORDER BY d) AS rn, count(*) OVER () AS n FROM newest)"
    " SELECT max(n), max(CASE WHEN rn = (n + 1) / 2 THEN d END),"
    " max(CASE WHEN rn = (99 * n + 99) / 100 THEN d END), max(d) FROM ranked"
)


async def honour_times(db: Database, since: date, scope: str | None, limit: int) -> HonourTimes | None:
    clauses = ["type = 'opt_out'", "received_at IS NOT NULL", "ts >= ?"]
    params: list[Any] = [to_micros(datetime.combine(since, time(), UTC))]
    if scope is not None:
        clauses.append("scope = ?")
        params.append(scope)
    rows = await db.fetch(
        "reading times to honour", _RANKED.format(where=" AND ".join(clauses)), (*params, limit)
    )
    n, p50, p99, slowest = rows[0]
    return None if not n else HonourTimes(int(n), p50 / 1e6, p99 / 1e6, slowest / 1e6)
