"""Webhook cursors and dead letters, and web opt-out tokens, on SQLite (issue 16).

Only the writes whose upsert is spelled the SQLite way; the rest is shared with PostgreSQL
(:mod:`gateway.store.sql.selfservice`). The functions are bodies of write transactions.
"""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from gateway.store.model import DeadLetter, WebToken, utcnow
from gateway.store.rows import DEAD_LETTER_COLUMNS, WEB_TOKEN_COLUMNS, to_micros, web_token_values


async def advance(
    conn: aiosqlite.Connection, name: str, expected: int, cursor: int, dead: DeadLetter | None
) -> bool:
    now = to_micros(utcnow())
    rows = list(await conn.execute_fetchall("SELECT cursor FROM webhook_cursors WHERE name = ?", (name,)))
    current = int(rows[0][0]) if rows else 0
    if current != expected:
        return False
    await conn.execute(
        "INSERT INTO webhook_cursors (name, cursor, dead_letters, updated) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor,"
        " dead_letters = dead_letters + excluded.dead_letters, updated = excluded.updated",
        (name, cursor, 1 if dead else 0, now),
    )
    if dead is not None:
        await conn.execute(
            f"INSERT OR REPLACE INTO webhook_dead_letters ({DEAD_LETTER_COLUMNS}) VALUES (?, ?, ?, ?)",
            (dead.webhook, dead.event_id, to_micros(dead.ts), dead.error),
        )
    return True


async def add_tokens(conn: aiosqlite.Connection, tokens: Sequence[WebToken]) -> None:
    await conn.executemany(
        f"INSERT OR IGNORE INTO web_tokens ({WEB_TOKEN_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
        [web_token_values(t) for t in tokens],
    )
