"""Consent records, erasure, webhook cursors and web tokens on PostgreSQL (issue 16).

The same statements as the SQLite store's :mod:`gateway.store.sqlite.consents` and
:mod:`gateway.store.sqlite.outbox`, in PostgreSQL's dialect; write functions are transaction bodies.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
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
from gateway.store.postgres.connection import Connection, Database
from gateway.store.postgres.writes import INSERT_EVENT
from gateway.store.rows import event_values, from_micros, to_micros

_CONSENT_COLUMNS = "id, ts, scope, number, source, wording, evidence, account, ended"


def _consent(row: Sequence[Any]) -> Consent:
    id_, ts, scope, number, source, wording, evidence, account, ended = row
    return Consent(
        id=id_,
        ts=from_micros(ts),
        scope=scope,
        number=number,
        source=source,
        wording=wording,
        evidence=json.loads(evidence) if evidence else {},
        account=account,
        ended=None if ended is None else from_micros(ended),
    )


async def add_consent(conn: Connection, consent: Consent, channel: Channel) -> int:
    cur = await conn.execute(
        "INSERT INTO consents (ts, scope, number, source, wording, evidence, account, ended)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
        (
            to_micros(consent.ts),
            consent.scope,
            consent.number,
            consent.source,
            consent.wording,
            json.dumps(consent.evidence, sort_keys=True) if consent.evidence else None,
            consent.account,
            None if consent.ended is None else to_micros(consent.ended),
        ),
    )
    row = await cur.fetchone()
    assert row is not None
    event = Event(
        type=EventType.CONSENT,
        number=consent.number,
        scope=consent.scope,
        channel=channel,
        account=consent.account,
        text=consent.wording,
        reason=consent.source,
        ts=consent.ts,
    )
    await conn.execute(INSERT_EVENT, event_values(event, None))
    return int(row[0])


async def consents(db: Database, scope: str, number: str) -> list[Consent]:
    rows = await db.fetch(
        "reading consents",
        f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE number = %s AND scope = %s ORDER BY id",
        (number, scope),
    )
    return [_consent(row) for row in rows]


async def redact_number(conn: Connection, number: str, operator: str | None, channel: Channel) -> int:
    cur = await conn.execute("SELECT DISTINCT scope FROM events WHERE number = %s ORDER BY scope", (number,))
    scopes = [row[0] for row in await cur.fetchall()]
    cur = await conn.execute(
        "UPDATE events SET"
        " text = CASE WHEN text IS NULL THEN NULL ELSE %(m)s END,"
        " reason = CASE WHEN reason IS NULL OR type = 'consent' THEN reason ELSE %(m)s END"
        " WHERE number = %(n)s AND ((text IS NOT NULL AND text IS DISTINCT FROM %(m)s)"
        " OR (reason IS NOT NULL AND reason IS DISTINCT FROM %(m)s AND type <> 'consent'))",
        {"m": REDACTED, "n": number},
    )
    changed = cur.rowcount
    await conn.execute(
        "UPDATE consents SET evidence = NULL WHERE number = %s AND evidence IS NOT NULL", (number,)
    )
    await conn.execute(
        "UPDATE suppressions SET reason = %s WHERE number = %s AND reason IS NOT NULL", (REDACTED, number)
    )
    now = utcnow()
    for scope in scopes:
        event = Event(
            type=EventType.REDACTED, number=number, scope=scope, channel=channel, operator=operator, ts=now
        )
        await conn.execute(INSERT_EVENT, event_values(event, None))
    return changed


async def redact_texts_before(conn: Connection, before: datetime) -> int:
    cur = await conn.execute(
        "UPDATE events SET text = %(m)s WHERE ts < %(b)s AND text IS NOT NULL AND text <> %(m)s",
        {"m": REDACTED, "b": to_micros(before)},
    )
    return cur.rowcount


async def webhook_states(db: Database, name: str | None = None) -> list[WebhookState]:
    where, params = ("WHERE name = %s", (name,)) if name is not None else ("", ())
    rows = await db.fetch(
        "reading webhook cursors",
        f"SELECT name, cursor, dead_letters, last_error, updated FROM webhook_cursors {where} ORDER BY name",
        params,
    )
    return [
        WebhookState(name=n, cursor=c, dead_letters=d, last_error=e, updated=from_micros(u))
        for n, c, d, e, u in rows
    ]


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
            "INSERT INTO webhook_dead_letters (webhook, event_id, ts, error) VALUES (%s, %s, %s, %s)"
            " ON CONFLICT (webhook, event_id) DO UPDATE SET ts = excluded.ts, error = excluded.error",
            (dead.webhook, dead.event_id, to_micros(dead.ts), dead.error),
        )
    return True


async def set_cursor(conn: Connection, name: str, cursor: int) -> None:
    await conn.execute(
        "INSERT INTO webhook_cursors (name, cursor, updated) VALUES (%s, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET cursor = excluded.cursor, updated = excluded.updated",
        (name, cursor, to_micros(utcnow())),
    )


async def note_error(conn: Connection, name: str, error: str | None) -> None:
    await conn.execute(
        "INSERT INTO webhook_cursors (name, cursor, last_error, updated) VALUES (%s, 0, %s, %s)"
        " ON CONFLICT (name) DO UPDATE SET last_error = excluded.last_error, updated = excluded.updated",
        (name, error, to_micros(utcnow())),
    )


async def dead_letters(db: Database, name: str, limit: int) -> list[DeadLetter]:
    rows = await db.fetch(
        "reading dead letters",
        "SELECT webhook, event_id, ts, error FROM webhook_dead_letters WHERE webhook = %s"
        " ORDER BY event_id DESC LIMIT %s",
        (name, limit),
    )
    return [
        DeadLetter(webhook=w, event_id=e, ts=from_micros(ts), error=err) for w, e, ts, err in reversed(rows)
    ]


async def add_tokens(conn: Connection, tokens: Sequence[WebToken]) -> None:
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO web_tokens (token, scope, number, account, campaign, expires)"
            " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (token) DO NOTHING",
            [(t.token, t.scope, t.number, t.account, t.campaign, to_micros(t.expires)) for t in tokens],
        )


async def web_token(db: Database, token: str) -> WebToken | None:
    rows = await db.fetch(
        "reading a web token",
        "SELECT token, scope, number, account, campaign, expires FROM web_tokens WHERE token = %s",
        (token,),
    )
    if not rows:
        return None
    t, scope, number, account, campaign, expires = rows[0]
    return WebToken(
        token=t, scope=scope, number=number, account=account, campaign=campaign, expires=from_micros(expires)
    )
