"""Consent records and erasure on SQLite: the consent table, and the one UPDATE the log allows.

The write functions are bodies of write transactions (see :mod:`.writes`); the reads use the reader.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import aiosqlite

from gateway.store.model import REDACTED, Channel, Consent, Event, EventType, utcnow
from gateway.store.rows import event_values, from_micros, to_micros
from gateway.store.sqlite.connection import Database
from gateway.store.sqlite.writes import INSERT_EVENT

_CONSENT_COLUMNS = "id, ts, scope, number, source, wording, evidence, account, ended"


def _consent_from_row(row: Sequence[Any]) -> Consent:
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


async def add_consent(conn: aiosqlite.Connection, consent: Consent, channel: Channel) -> int:
    """Insert ``consent`` and its CONSENT event; the consent's id."""
    cursor = await conn.execute(
        "INSERT INTO consents (ts, scope, number, source, wording, evidence, account, ended)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
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
    assert cursor.lastrowid is not None
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
    return cursor.lastrowid


async def end_consents(conn: aiosqlite.Connection, scope: str, number: str, ts: datetime) -> None:
    """End every live consent of (scope, number) at ``ts`` (an opt-out withdraws consent)."""
    await conn.execute(
        "UPDATE consents SET ended = ? WHERE scope = ? AND number = ? AND ended IS NULL",
        (to_micros(ts), scope, number),
    )


async def consents(db: Database, scope: str, number: str) -> list[Consent]:
    rows = await db.fetch(
        "reading consents",
        f"SELECT {_CONSENT_COLUMNS} FROM consents WHERE number = ? AND scope = ? ORDER BY id",
        (number, scope),
    )
    return [_consent_from_row(row) for row in rows]


async def redact_number(
    conn: aiosqlite.Connection, number: str, operator: str | None, channel: Channel
) -> int:
    """Redact ``number``'s text and reason fields everywhere; log one REDACTED event per scope."""
    scopes = [
        row[0]
        for row in await conn.execute_fetchall(
            "SELECT DISTINCT scope FROM events WHERE number = ? ORDER BY scope", (number,)
        )
    ]
    cursor = await conn.execute(
        "UPDATE events SET"
        " text = CASE WHEN text IS NULL THEN NULL ELSE ?1 END,"
        " reason = CASE WHEN reason IS NULL OR type = 'consent' THEN reason ELSE ?1 END"
        " WHERE number = ?2 AND (text IS NOT NULL AND text IS NOT ?1"
        " OR reason IS NOT NULL AND reason IS NOT ?1 AND type IS NOT 'consent')",
        (REDACTED, number),
    )
    changed = cursor.rowcount
    await conn.execute(
        "UPDATE consents SET evidence = NULL WHERE number = ? AND evidence IS NOT NULL", (number,)
    )
    await conn.execute(
        "UPDATE suppressions SET reason = ? WHERE number = ? AND reason IS NOT NULL",
        (REDACTED, number),
    )
    now = utcnow()
    for scope in scopes:
        event = Event(
            type=EventType.REDACTED, number=number, scope=scope, channel=channel, operator=operator, ts=now
        )
        await conn.execute(INSERT_EVENT, event_values(event, None))
    return changed


async def redact_texts_before(conn: aiosqlite.Connection, before: datetime) -> int:
    """Replace the MO text of every event older than ``before`` by the marker."""
    cursor = await conn.execute(
        "UPDATE events SET text = ?1 WHERE ts < ?2 AND text IS NOT NULL AND text IS NOT ?1",
        (REDACTED, to_micros(before)),
    )
    return cursor.rowcount
