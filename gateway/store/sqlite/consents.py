"""Consent records and erasure on SQLite: the consent table, and the one UPDATE the log allows.

The functions are bodies of write transactions (see :mod:`.writes`); the reads and the rest of an
erasure are shared with PostgreSQL (:mod:`gateway.store.sql.selfservice`).
"""

from __future__ import annotations

from datetime import datetime

import aiosqlite

from gateway.store.model import REDACTED, Channel, Consent
from gateway.store.rows import CONSENT_INSERT_COLUMNS, consent_values, event_values, to_micros
from gateway.store.selfservice import consent_event
from gateway.store.sql.dialect import SQLITE
from gateway.store.sql.selfservice import redact_records
from gateway.store.sqlite.writes import INSERT_EVENT


async def add_consent(conn: aiosqlite.Connection, consent: Consent, channel: Channel) -> int:
    """Insert ``consent`` and its CONSENT event; the consent's id."""
    cursor = await conn.execute(
        f"INSERT INTO consents ({CONSENT_INSERT_COLUMNS}) VALUES ({SQLITE.params(8)})",
        consent_values(consent),
    )
    assert cursor.lastrowid is not None
    await conn.execute(INSERT_EVENT, event_values(consent_event(consent, channel), None))
    return cursor.lastrowid


async def redact_number(
    conn: aiosqlite.Connection, number: str, operator: str | None, channel: Channel
) -> int:
    """Redact ``number``'s text and reason fields everywhere; log one REDACTED event per scope."""
    cursor = await conn.execute(
        "UPDATE events SET"
        " text = CASE WHEN text IS NULL THEN NULL ELSE ?1 END,"
        " reason = CASE WHEN reason IS NULL OR type = 'consent' THEN reason ELSE ?1 END"
        " WHERE number = ?2 AND (text IS NOT NULL AND text IS NOT ?1"
        " OR reason IS NOT NULL AND reason IS NOT ?1 AND type IS NOT 'consent')",
        (REDACTED, number),
    )
    changed = cursor.rowcount
    await redact_records(conn, SQLITE, INSERT_EVENT, number, operator, channel)
    return changed


async def redact_texts_before(conn: aiosqlite.Connection, before: datetime) -> int:
    """Replace the MO text of every event older than ``before`` by the marker."""
    cursor = await conn.execute(
        "UPDATE events SET text = ?1 WHERE ts < ?2 AND text IS NOT NULL AND text IS NOT ?1",
        (REDACTED, to_micros(before)),
    )
    return cursor.rowcount
