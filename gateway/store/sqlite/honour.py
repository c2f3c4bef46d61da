"""Time to honour on SQLite: how long the newest SMS opt-outs of a period took, MO arrival to commit.

Read from migration 0009's partial index ``events_honour`` (only SMS opt-outs with an arrival time, in
``ts`` order, covering the columns read), newest first and bounded, so the cost does not grow with
the log.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.store.rows import to_micros
from gateway.store.sqlite.connection import Database


async def honour_delays(db: Database, since: date, scope: str | None, limit: int) -> list[float]:
    clauses = ["type = 'opt_out'", "received_at IS NOT NULL", "ts >= ?"]
    params: list[Any] = [to_micros(datetime.combine(since, time(), UTC))]
    if scope is not None:
        clauses.append("scope = ?")
        params.append(scope)
    rows = await db.fetch(
        "reading times to honour",
        f"SELECT ts - received_at FROM events INDEXED BY events_honour WHERE {' AND '.join(clauses)}"
        " ORDER BY ts DESC LIMIT ?",
        (*params, limit),
    )
    return [delay / 1e6 for (delay,) in rows]
