"""Consent records, erasure, webhook cursors and web tokens: the parts every SQL backend runs alike.

Reads take the database; the write functions are bodies of write transactions (they take the
connection). What differs per backend (how an inserted row's id comes back, upsert and null-safe
comparison spellings) stays in its ``consents`` and ``outbox`` modules, which call these.
"""

from __future__ import annotations

from typing import Any

from gateway.store.model import (
    REDACTED,
    Channel,
    Consent,
    DeadLetter,
    Event,
    EventType,
    WebhookState,
    WebToken,
    utcnow,
)
from gateway.store.rows import (
    CONSENT_COLUMNS,
    DEAD_LETTER_COLUMNS,
    WEB_TOKEN_COLUMNS,
    WEBHOOK_STATE_COLUMNS,
    consent_from_row,
    dead_letter_from_row,
    event_values,
    to_micros,
    web_token_from_row,
    webhook_state_from_row,
)
from gateway.store.sql.dialect import Dialect
from gateway.store.sql.ports import Connection, SQLDatabase

# -- consent and erasure -------------------------------------------------------------------------


async def consents(db: SQLDatabase[Any], d: Dialect, scope: str, number: str) -> list[Consent]:
    p = d.param
    rows = await db.fetch(
        "reading consents",
        f"SELECT {CONSENT_COLUMNS} FROM consents WHERE number = {p} AND scope = {p} ORDER BY id",
        (number, scope),
    )
    return [consent_from_row(row) for row in rows]


async def redact_records(
    conn: Connection, d: Dialect, insert_event: str, number: str, operator: str | None, channel: Channel
) -> None:
    """The rest of an erasure once the backend has redacted the events: the consent evidence and
    the suppression reasons go, and one REDACTED event per scope ``number`` appears in records it."""
    p = d.param
    cursor = await conn.execute(
        f"SELECT DISTINCT scope FROM events WHERE number = {p} ORDER BY scope", (number,)
    )
    scopes = [row[0] for row in await cursor.fetchall()]
    await conn.execute(
        f"UPDATE consents SET evidence = NULL WHERE number = {p} AND evidence IS NOT NULL", (number,)
    )
    await conn.execute(
        f"UPDATE suppressions SET reason = {p} WHERE number = {p} AND reason IS NOT NULL", (REDACTED, number)
    )
    now = utcnow()
    for scope in scopes:
        event = Event(
            type=EventType.REDACTED, number=number, scope=scope, channel=channel, operator=operator, ts=now
        )
        await conn.execute(insert_event, event_values(event, None))


# -- webhook outbox ------------------------------------------------------------------------------


async def webhook_states(db: SQLDatabase[Any], d: Dialect, name: str | None = None) -> list[WebhookState]:
    where, params = (f"WHERE name = {d.param}", (name,)) if name is not None else ("", ())
    rows = await db.fetch(
        "reading webhook cursors",
        f"SELECT {WEBHOOK_STATE_COLUMNS} FROM webhook_cursors {where} ORDER BY name",
        params,
    )
    return [webhook_state_from_row(row) for row in rows]


async def set_cursor(conn: Connection, d: Dialect, name: str, cursor: int) -> None:
    p = d.param
    await conn.execute(
        f"INSERT INTO webhook_cursors (name, cursor, updated) VALUES ({p}, {p}, {p})"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
        (name, cursor, to_micros(utcnow())),
    )


async def note_error(conn: Connection, d: Dialect, name: str, error: str | None) -> None:
    p = d.param
    await conn.execute(
        f"INSERT INTO webhook_cursors (name, cursor, last_error, updated) VALUES ({p}, 0, {p}, {p})"
        " ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error, updated = excluded.updated",
        (name, error, to_micros(utcnow())),
    )


async def dead_letters(db: SQLDatabase[Any], d: Dialect, name: str, limit: int) -> list[DeadLetter]:
    p = d.param
    rows = await db.fetch(
        "reading dead letters",
        f"SELECT {DEAD_LETTER_COLUMNS} FROM webhook_dead_letters WHERE webhook = {p}"
        f" ORDER BY event_id DESC LIMIT {p}",
        (name, limit),
    )
    return [dead_letter_from_row(row) for row in reversed(rows)]


# -- web tokens ----------------------------------------------------------------------------------


async def web_token(db: SQLDatabase[Any], d: Dialect, token: str) -> WebToken | None:
    rows = await db.fetch(
        "reading a web token",
        f"SELECT {WEB_TOKEN_COLUMNS} FROM web_tokens WHERE token = {d.param}",
        (token,),
    )
    return web_token_from_row(rows[0]) if rows else None

