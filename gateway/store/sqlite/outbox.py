"""Webhook cursors and dead letters, and web opt-out tokens, on SQLite (issue 16)."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from gateway.store.model import DeadLetter, WebhookState, WebToken, utcnow
from gateway.store.rows import from_micros, to_micros
from gateway.store.sqlite.connection import Database

_STATE_COLUMNS = "name, cursor, dead_letters, last_error, updated"


def _state(row: tuple[str, int, int, str | None, int]) -> WebhookState:
    name, cursor, dead, error, updated = row
    return WebhookState(
        name=name, cursor=cursor, dead_letters=dead, last_error=error, updated=from_micros(updated)
    )


async def webhook_states(db: Database, name: str | None = None) -> list[WebhookState]:
    where, params = ("WHERE name = ?", (name,)) if name is not None else ("", ())
    rows = await db.fetch(
        "reading webhook cursors",
        f"SELECT {_STATE_COLUMNS} FROM webhook_cursors {where} ORDER BY name",
        params,
    )
    return [_state(tuple(row)) for row in rows]


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
            "INSERT OR REPLACE INTO webhook_dead_letters (webhook, event_id, ts, error) VALUES (?, ?, ?, ?)",
            (dead.webhook, dead.event_id, to_micros(dead.ts), dead.error),
        )
    return True


async def set_cursor(conn: aiosqlite.Connection, name: str, cursor: int) -> None:
    await conn.execute(
        "INSERT INTO webhook_cursors (name, cursor, updated) VALUES (?, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
        (name, cursor, to_micros(utcnow())),
    )


async def note_error(conn: aiosqlite.Connection, name: str, error: str | None) -> None:
    await conn.execute(
        "INSERT INTO webhook_cursors (name, cursor, last_error, updated) VALUES (?, 0, ?, ?)"
        " ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error, updated = excluded.updated",
        (name, error, to_micros(utcnow())),
    )


async def dead_letters(db: Database, name: str, limit: int) -> list[DeadLetter]:
    rows = await db.fetch(
        "reading dead letters",
        "SELECT webhook, event_id, ts, error FROM webhook_dead_letters WHERE webhook = ?"
        " ORDER BY event_id DESC LIMIT ?",
        (name, limit),
    )
    return [
        DeadLetter(webhook=w, event_id=e, ts=from_micros(ts), error=err) for w, e, ts, err in reversed(rows)
    ]


async def add_tokens(conn: aiosqlite.Connection, tokens: Sequence[WebToken]) -> None:
    await conn.executemany(
        "INSERT OR IGNORE INTO web_tokens (token, scope, number, account, campaign, expires)"
        " VALUES (?, ?, ?, ?, ?, ?)",
        [(t.token, t.scope, t.number, t.account, t.campaign, to_micros(t.expires)) for t in tokens],
    )


async def web_token(db: Database, token: str) -> WebToken | None:
    rows = await db.fetch(
        "reading a web token",
        "SELECT token, scope, number, account, campaign, expires FROM web_tokens WHERE token = ?",
        (token,),
    )
    if not rows:
        return None
    token_, scope, number, account, campaign, expires = rows[0]
    return WebToken(
        token=token_,
        scope=scope,
        number=number,
        account=account,
        campaign=campaign,
        expires=from_micros(expires),
    )
