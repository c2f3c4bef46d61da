"""Consent records and erasure on PostgreSQL: the consent table, and the one UPDATE the log allows.

The functions are bodies of write transactions (see :mod:`.writes`); the reads and the rest of an
erasure are shared with SQLite (:mod:`gateway.store.sql.selfservice`).
"""

from __future__ import annotations

from datetime import datetime

from gateway.store.model import REDACTED, Channel, Consent
from gateway.store.postgres.connection import Connection
from gateway.store.postgres.writes import INSERT_EVENT
from gateway.store.rows import CONSENT_INSERT_COLUMNS, consent_values, event_values, to_micros
from gateway.store.selfservice import consent_event
from gateway.store.sql.dialect import POSTGRES
from gateway.store.sql.selfservice import redact_records


async def add_consent(conn: Connection, consent: Consent, channel: Channel) -> int:
    """Insert ``consent`` and its CONSENT event; the consent's id."""
    cur = await conn.execute(
        f"INSERT INTO consents ({CONSENT_INSERT_COLUMNS}) VALUES ({POSTGRES.params(8)}) RETURNING id",
        consent_values(consent),
    )
    row = await cur.fetchone()
    assert row is not None
    await conn.execute(INSERT_EVENT, event_values(consent_event(consent, channel), None))
    return int(row[0])


async def redact_number(conn: Connection, number: str, operator: str | None, channel: Channel) -> int:
    """Redact ``number``'s text and reason fields everywhere; log one REDACTED event per scope."""
    cur = await conn.execute(
        "UPDATE events SET"
        " text = CASE WHEN text IS NULL THEN NULL ELSE %(m)s END,"
        " reason = CASE WHEN reason IS NULL OR type = 'consent' THEN reason ELSE %(m)s END"
        " WHERE number = %(n)s AND ((text IS NOT NULL AND text IS DISTINCT FROM %(m)s)"
        " OR (reason IS NOT NULL AND reason IS DISTINCT FROM %(m)s AND type <> 'consent'))",
        {"m": REDACTED, "n": number},
    )
    changed = cur.rowcount
    await redact_records(conn, POSTGRES, INSERT_EVENT, number, operator, channel)
    return changed


async def redact_texts_before(conn: Connection, before: datetime) -> int:
    """Replace the MO text of every event older than ``before`` by the marker."""
    cur = await conn.execute(
        "UPDATE events SET text = %(m)s WHERE ts < %(b)s AND text IS NOT NULL AND text <> %(m)s",
        {"m": REDACTED, "b": to_micros(before)},
    )
    return cur.rowcount
