"""The write side: each function is the body of one transaction on a pooled connection.

Ordering the change feed across processes: the feed is read in (xid, id) order (:mod:`.reads`), so two
changes of one number must get xids in the order they commit. Each state change therefore first takes
an advisory lock on its (scope, number), *before* its first write assigns the transaction's xid: a
later writer of that number waits for the earlier one's commit and only then gets its (higher) xid.
A bulk import takes :data:`FEED_LOCK` exclusively (state changes take it shared) for the same reason.
NOTIFY is sent inside the transaction: PostgreSQL delivers it at commit, as a wake-up for followers.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime

from gateway.store.model import Event, utcnow
from gateway.store.postgres.connection import Connection
from gateway.store.rows import (
    EVENT_INSERT_COLUMNS,
    SUPPRESSION_COLUMNS,
    event_values,
    suppression_values,
    to_micros,
)

#: Advisory lock keys (two-int4 form): the feed as a whole, and one (scope, number).
FEED_LOCK = 0x53544F50
NUMBER_LOCK = 0x53544F51
#: The NOTIFY channel followers LISTEN on.
CHANNEL = "stopgate_changes"

INSERT_EVENT = (
    f"INSERT INTO events ({EVENT_INSERT_COLUMNS}) VALUES ({', '.join(['%s'] * 15)}) RETURNING id"
)
_INSERT_SUPPRESSION = f"INSERT INTO suppressions ({SUPPRESSION_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"
_LOCK_NUMBER = (
    "SELECT pg_advisory_xact_lock_shared(%s, 0),"
    " pg_advisory_xact_lock(%s, hashtext(%s || chr(31) || %s))"
)


async def _lock_number(conn: Connection, scope: str, number: str) -> None:
    await conn.execute(_LOCK_NUMBER, (FEED_LOCK, NUMBER_LOCK, scope, number))


async def _notify(conn: Connection) -> None:
    await conn.execute("SELECT pg_notify(%s, '')", (CHANNEL,))


async def opt_out(conn: Connection, event: Event) -> bool:
    """Log ``event``; suppress its number unless it already was (then the event is no change)."""
    await _lock_number(conn, event.scope, event.number)
    cur = await conn.execute(
        "SELECT 1 FROM suppressions WHERE scope = %s AND number = %s", (event.scope, event.number)
    )
    new = await cur.fetchone() is None
    cur = await conn.execute(INSERT_EVENT, event_values(event, 1 if new else None))
    row = await cur.fetchone()
    assert row is not None
    if new:
        await conn.execute(_INSERT_SUPPRESSION, suppression_values(event, row[0]))
        await _notify(conn)
    # An opt-out withdraws consent (issue 16); an operator's add does too.
    await conn.execute(
        "UPDATE consents SET ended = %s WHERE scope = %s AND number = %s AND ended IS NULL",
        (to_micros(event.ts), event.scope, event.number),
    )
    return new


async def opt_in(conn: Connection, event: Event) -> bool:
    """Log ``event``; lift its number's suppression if there was one (then it is a change)."""
    await _lock_number(conn, event.scope, event.number)
    cur = await conn.execute(
        "DELETE FROM suppressions WHERE scope = %s AND number = %s", (event.scope, event.number)
    )
    removed = cur.rowcount > 0
    await conn.execute(INSERT_EVENT, event_values(event, 0 if removed else None))
    if removed:
        await _notify(conn)
    return removed


async def append_events(conn: Connection, events: Sequence[Event]) -> None:
    """Log stateless ``events`` (not feed entries: no lock needed).

    One multi-row INSERT per :data:`_APPEND_ROWS` events, not one statement each: migration 0007's
    counting trigger runs once per statement, so a batch of blocked messages is counted in one go.
    """
    for start in range(0, len(events), _APPEND_ROWS):
        chunk = events[start : start + _APPEND_ROWS]
        params = [value for e in chunk for value in event_values(e, None)]
        await conn.execute(_insert_events(len(chunk)), params)


#: Rows per multi-row INSERT (15 parameters each, well under PostgreSQL's 65,535).
_APPEND_ROWS = 1000
_ROW = f"({', '.join(['%s'] * 15)})"


@functools.lru_cache(maxsize=16)
def _insert_events(rows: int) -> bytes:
    return f"INSERT INTO events ({EVENT_INSERT_COLUMNS}) VALUES {', '.join([_ROW] * rows)}".encode()


async def add_sent_counts(conn: Connection, counts: Mapping[tuple[str, str, str], int]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO sent_counts (day, scope, campaign, sent) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (day, scope, campaign) DO UPDATE SET sent = sent_counts.sent + excluded.sent",
            [(day, scope, campaign, n) for (day, scope, campaign), n in counts.items()],
        )


async def record_last_campaigns(
    conn: Connection, rows: Sequence[tuple[str, str, str, datetime]]
) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO last_campaigns (scope, number, campaign, ts) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (scope, number) DO UPDATE SET campaign = excluded.campaign,"
            " ts = excluded.ts WHERE excluded.ts >= last_campaigns.ts",
            [(scope, number, campaign, to_micros(ts)) for scope, number, campaign, ts in rows],
        )


async def record_receipt_routes(
    conn: Connection, rows: Sequence[tuple[str, str, str, str, datetime]]
) -> None:
    """Remember (upstream, message_id, account, session, expires_at), replacing an older route."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO receipt_routes (upstream, message_id, account, session, expires_at)"
            " VALUES (%s, %s, %s, %s, %s) ON CONFLICT (upstream, message_id) DO UPDATE SET"
            " account = EXCLUDED.account, session = EXCLUDED.session, expires_at = EXCLUDED.expires_at",
            [(u, m, a, s, to_micros(e)) for u, m, a, s, e in rows],
        )


async def record_footers(conn: Connection, rows: Sequence[tuple[str, str, datetime]]) -> None:
    """Remember when each (scope, number) got the footer, keeping the later time."""
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO footers_sent (scope, number, sent_at) VALUES (%s, %s, %s)"
            " ON CONFLICT (scope, number) DO UPDATE"
            " SET sent_at = GREATEST(footers_sent.sent_at, EXCLUDED.sent_at)",
            # In key order: two processes' batches then lock shared rows in the same order.
            [(scope, number, to_micros(at)) for scope, number, at in sorted(rows)],
        )


async def heartbeat(conn: Connection) -> None:
    await conn.execute(
        "INSERT INTO heartbeat (id, ts) VALUES (1, %s) ON CONFLICT (id) DO UPDATE SET ts = excluded.ts",
        (to_micros(utcnow()),),
    )
