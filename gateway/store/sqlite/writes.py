"""The write side: each function is the body of one write transaction on the writer connection.

The caller (:class:`~gateway.store.sql.facade.SQLStore`) has validated the arguments and opened
the transaction (``BEGIN IMMEDIATE``, shielded, under the write lock); it commits when the function
returns, so what a function writes becomes durable together or not at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import aiosqlite

from gateway.store.model import Event, utcnow
from gateway.store.rows import (
    EVENT_INSERT_COLUMNS,
    SUPPRESSION_COLUMNS,
    event_values,
    suppression_values,
    to_micros,
)

INSERT_EVENT = f"INSERT INTO events ({EVENT_INSERT_COLUMNS}) VALUES ({', '.join('?' * 15)})"
_INSERT_SUPPRESSION = f"INSERT INTO suppressions ({SUPPRESSION_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)"


async def opt_out(conn: aiosqlite.Connection, event: Event) -> bool:
    """Log ``event``; suppress its number unless it already was (then the event is no change)."""
    rows = await conn.execute_fetchall(
        "SELECT 1 FROM suppressions WHERE scope = ? AND number = ?",
        (event.scope, event.number),
    )
    new = not list(rows)
    cursor = await conn.execute(INSERT_EVENT, event_values(event, 1 if new else None))
    if new:
        await conn.execute(_INSERT_SUPPRESSION, suppression_values(event, cursor.lastrowid))
    # An opt-out withdraws consent (issue 16); an operator's add or an import does too.
    await conn.execute(
        "UPDATE consents SET ended = ? WHERE scope = ? AND number = ? AND ended IS NULL",
        (to_micros(event.ts), event.scope, event.number),
    )
    return new


async def opt_in(conn: aiosqlite.Connection, event: Event) -> bool:
    """Log ``event``; lift its number's suppression if there was one (then it is a change)."""
    cursor = await conn.execute(
        "DELETE FROM suppressions WHERE scope = ? AND number = ?",
        (event.scope, event.number),
    )
    removed = cursor.rowcount > 0
    await conn.execute(INSERT_EVENT, event_values(event, 0 if removed else None))
    return removed


async def append_events(conn: aiosqlite.Connection, events: Sequence[Event]) -> None:
    """Log stateless ``events``."""
    await conn.executemany(INSERT_EVENT, [event_values(e, None) for e in events])


async def add_sent_counts(
    conn: aiosqlite.Connection, counts: Mapping[tuple[str, str, str], int]
) -> None:
    """Add ``counts`` keyed (day, scope, campaign) to the stored totals."""
    await conn.executemany(
        "INSERT INTO sent_counts (day, scope, campaign, sent) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (day, scope, campaign) DO UPDATE SET sent = sent + excluded.sent",
        [(day, scope, campaign, n) for (day, scope, campaign), n in counts.items()],
    )


async def record_last_campaigns(
    conn: aiosqlite.Connection, rows: Sequence[tuple[str, str, str, datetime]]
) -> None:
    """Remember each (scope, number)'s campaign unless a newer one is stored."""
    params = [(scope, number, campaign, to_micros(ts)) for scope, number, campaign, ts in rows]
    await conn.executemany(
        "INSERT INTO last_campaigns (scope, number, campaign, ts) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (scope, number) DO UPDATE"
        " SET campaign = excluded.campaign, ts = excluded.ts WHERE excluded.ts >= ts",
        params,
    )


async def record_footers(
    conn: aiosqlite.Connection, rows: Sequence[tuple[str, str, datetime]]
) -> None:
    """Remember when each (scope, number) got the footer, keeping the later time."""
    await conn.executemany(
        "INSERT INTO footers_sent (scope, number, sent_at) VALUES (?, ?, ?)"
        " ON CONFLICT (scope, number) DO UPDATE SET sent_at = max(sent_at, excluded.sent_at)",
        # In key order: two processes' batches then lock shared rows in the same order.
        [(scope, number, to_micros(at)) for scope, number, at in sorted(rows)],
    )


async def heartbeat(conn: aiosqlite.Connection) -> None:
    """Overwrite the one heartbeat row: a write that proves commits work."""
    await conn.execute(
        "INSERT OR REPLACE INTO heartbeat (id, ts) VALUES (1, ?)", (to_micros(utcnow()),)
    )


async def record_receipt_routes(
    conn: aiosqlite.Connection, rows: Sequence[tuple[str, str, str, str, datetime]]
) -> None:
    """Remember (upstream, message_id, account, session, expires_at), replacing an older route."""
    await conn.executemany(
        "INSERT OR REPLACE INTO receipt_routes (upstream, message_id, account, session, expires_at)"
        " VALUES (?, ?, ?, ?, ?)",
        [(u, m, a, s, to_micros(e)) for u, m, a, s, e in rows],
    )
