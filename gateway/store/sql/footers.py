"""The :class:`~gateway.store.guards.SentGuards` statements both SQL backends spell alike: footers and
confirmations sent (migrations 0008). Recording footers, a batched upsert, is each backend's own
(``record_footers`` in its ``writes`` module).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from gateway.store.rows import from_micros, to_micros
from gateway.store.sql.dialect import Dialect
from gateway.store.sql.ports import Connection, SQLDatabase


async def footers_since(
    db: SQLDatabase[Any], d: Dialect, since: datetime, limit: int
) -> list[tuple[str, str, datetime]]:
    p = d.param
    rows = await db.fetch(
        "reading footers sent",
        f"SELECT scope, number, sent_at FROM footers_sent WHERE sent_at >= {p} ORDER BY sent_at LIMIT {p}",
        (to_micros(since), limit),
    )
    return [(str(scope), str(number), from_micros(int(at))) for scope, number, at in rows]


async def purge_footers(conn: Connection, d: Dialect, before: datetime) -> int:
    cursor = await conn.execute(f"DELETE FROM footers_sent WHERE sent_at < {d.param}", (to_micros(before),))
    return cursor.rowcount


async def claim_confirmation(
    conn: Connection, d: Dialect, scope: str, number: str, kind: str, at: datetime, window: float
) -> bool:
    p = d.param
    # The conditional upsert changes no row when a claim within the window stands.
    cursor = await conn.execute(
        f"INSERT INTO confirmations_sent (scope, number, kind, sent_at) VALUES ({d.params(4)})"
        " ON CONFLICT (scope, number, kind) DO UPDATE SET sent_at = excluded.sent_at"
        f" WHERE confirmations_sent.sent_at <= excluded.sent_at - {p}",
        (scope, number, kind, to_micros(at), round(window * 1_000_000)),
    )
    return cursor.rowcount == 1


async def release_confirmation(
    conn: Connection, d: Dialect, scope: str, number: str, kind: str, at: datetime
) -> None:
    p = d.param
    await conn.execute(
        f"DELETE FROM confirmations_sent WHERE scope = {p} AND number = {p} AND kind = {p} AND sent_at = {p}",
        (scope, number, kind, to_micros(at)),
    )


async def purge_confirmations(conn: Connection, d: Dialect, before: datetime) -> int:
    cursor = await conn.execute(
        f"DELETE FROM confirmations_sent WHERE sent_at < {d.param}", (to_micros(before),)
    )
    return cursor.rowcount
