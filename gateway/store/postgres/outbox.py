"""Webhook cursors and dead letters, and web opt-out tokens, on PostgreSQL (issue 16).

Only the writes whose locking or upsert is spelled the PostgreSQL way; the rest is shared with SQLite
(:mod:`gateway.store.sql.selfservice`). The functions are bodies of write transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.model import DeadLetter, WebToken, utcnow
from gateway.store.postgres.connection import Connection
from gateway.store.rows import DEAD_LETTER_COLUMNS, WEB_TOKEN_COLUMNS, to_micros, web_token_values


async def advance(conn: Connection, name: str, expected: int, cursor: int, dead: DeadLetter | None) -> bool:
    cur = await conn.execute("SELECT cursor FROM webhook_cursors WHERE name = %s FOR UPDATE", (name,))
    row = await cur.fetchone()
    if (int(row[0]) if row else 0) != expected:
        return False
    await conn.execute(
        "INSERT INTO webhook_cursors (name, cursor, dead_letters, updated) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
        " dead_letters = webhook_cursors.dead_letters + excluded.dead_letters, updated = excluded.updated",
        (name, cursor, 1 if dead else 0, to_micros(utcnow())),
    )
    if dead is not None:
        await conn.execute(
            f"INSERT INTO webhook_dead_letters ({DEAD_LETTER_COLUMNS}) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (webhook, event_id) DO UPDATE SET ts = excluded.ts, error = excluded.error",
            (dead.webhook, dead.event_id, to_micros(dead.ts), dead.error),
        )
    return True


async def add_tokens(conn: Connection, tokens: Sequence[WebToken]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            f"INSERT INTO web_tokens ({WEB_TOKEN_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (token) DO NOTHING",
            [web_token_values(t) for t in tokens],
        )
