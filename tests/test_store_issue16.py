"""Consent records, erasure and webhook cursors in every store backend (issue 16)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from gateway.store import (
    REDACTED,
    Channel,
    Consent,
    DeadLetter,
    Event,
    EventType,
    MemoryStore,
    SQLiteStore,
    Store,
)
from gateway.store.postgres import PostgresStore
from tests.pgdb import fresh_database
from tests.stores import store

pytestmark = pytest.mark.anyio
__all__ = ["store"]  # the fixture, imported for pytest

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
A = "+447700900401"
B = "+447700900402"


def stop(number: str, ts: datetime, text: str = "STOP") -> Event:
    return Event(
        type=EventType.OPT_OUT,
        number=number,
        scope="acme",
        channel=Channel.SMS,
        keyword="STOP",
        text=text,
        reason="said so on the phone",
        ts=ts,
    )


async def test_consent_history_and_opt_out_ends_it(store: Store) -> None:
    consent = Consent(
        scope="acme",
        number=A,
        source="web_form",
        wording="Tick to get offers",
        evidence={"ip": "192.0.2.7", "form": "signup-3"},
        account="esme1",
        ts=T0,
    )
    stored = await store.add_consent(consent, channel=Channel.API)
    assert stored.id is not None
    assert await store.consents("acme", A) == [stored]
    assert await store.live_consent("acme", A) == stored
    assert await store.live_consent("other", A) is None
    # The consent is in the audit log too (exports and webhooks read the log).
    [logged] = await store.events(types=[EventType.CONSENT])
    assert (logged.number, logged.text, logged.reason) == (A, "Tick to get offers", "web_form")

    await store.opt_out(stop(A, T0 + timedelta(hours=1)))
    assert await store.live_consent("acme", A) is None
    [ended] = await store.consents("acme", A)
    assert ended.ended == T0 + timedelta(hours=1)
    # A new consent after the opt-out is live again.
    again = await store.add_consent(
        Consent(scope="acme", number=A, source="keyword", wording="JOIN", ts=T0 + timedelta(hours=2)),
        channel=Channel.SMS,
    )
    assert await store.live_consent("acme", A) == again
    with pytest.raises(ValueError, match="already has id"):
        await store.add_consent(again, channel=Channel.API)


async def test_redact_number_keeps_facts_and_suppression(store: Store) -> None:
    await store.add_consent(
        Consent(scope="acme", number=A, source="web_form", evidence={"ip": "192.0.2.7"}, ts=T0),
        channel=Channel.API,
    )
    await store.opt_out(stop(A, T0 + timedelta(minutes=1), "STOP please, I am Jane"))
    await store.opt_out(stop(B, T0 + timedelta(minutes=2), "STOP from B"))
    changed = await store.redact_number(A, operator="dpo", channel=Channel.CLI)
    assert changed == 1
    events = await store.events(number=A)
    assert [e.type for e in events] == [EventType.CONSENT, EventType.OPT_OUT, EventType.REDACTED]
    opt_out = events[1]
    assert (opt_out.text, opt_out.reason, opt_out.keyword, opt_out.ts) == (
        REDACTED,
        REDACTED,
        "STOP",
        T0 + timedelta(minutes=1),
    )
    assert events[2].operator == "dpo"
    suppression = await store.get_suppression("acme", A)
    assert suppression is not None and suppression.reason == REDACTED
    [consent] = await store.consents("acme", A)
    assert consent.evidence == {}
    # Other subscribers are untouched.
    [other] = await store.events(number=B)
    assert other.text == "STOP from B"


async def test_retention_redacts_old_texts_only(store: Store) -> None:
    await store.opt_out(stop(A, T0))
    await store.opt_out(stop(B, T0 + timedelta(days=40)))
    assert await store.redact_texts_before(T0 + timedelta(days=30)) == 1
    assert [e.text for e in await store.events()] == [REDACTED, "STOP"]
    assert await store.redact_texts_before(T0 + timedelta(days=30)) == 0


async def test_webhook_cursor_compare_and_set(store: Store) -> None:
    state = await store.webhook_state("crm")
    assert (state.cursor, state.dead_letters) == (0, 0)
    assert await store.advance_webhook("crm", 0, 5)
    assert not await store.advance_webhook("crm", 4, 6)  # a replay moved it meanwhile
    dead = DeadLetter(webhook="crm", event_id=6, ts=T0, error="HTTP 500")
    assert await store.advance_webhook("crm", 5, 6, dead)
    await store.note_webhook_error("crm", "HTTP 500")
    state = await store.webhook_state("crm")
    assert (state.cursor, state.dead_letters, state.last_error) == (6, 1, "HTTP 500")
    assert await store.dead_letters("crm") == [dead]
    await store.set_webhook_cursor("crm", 2)
    assert [s.cursor for s in await store.webhook_states()] == [2]


async def test_sqlite_trigger_allows_only_redaction(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "s.db") as store:
        await store.opt_out(stop(A, T0))
    conn = sqlite3.connect(tmp_path / "s.db")
    try:
        refused = [
            "UPDATE events SET text = 'something else'",
            "UPDATE events SET number = '+447700900999'",
            "UPDATE events SET type = 'opt_in'",
            "UPDATE events SET ts = 0",
            "UPDATE events SET suppressed = NULL",
            f"UPDATE events SET text = '{REDACTED}', keyword = 'HELP'",
            "DELETE FROM events",
        ]
        for statement in refused:
            with pytest.raises(sqlite3.IntegrityError, match="append-only"):
                conn.execute(statement)
        conn.execute(f"UPDATE events SET text = '{REDACTED}', reason = '{REDACTED}'")
        conn.commit()
        assert conn.execute("SELECT text, reason, keyword FROM events").fetchall() == [
            (REDACTED, REDACTED, "STOP")
        ]
    finally:
        conn.close()


async def test_retention_task_redacts_periodically() -> None:
    import anyio

    from gateway.ops.retention import retention_task
    from gateway.store.model import utcnow

    async with MemoryStore() as store:
        await store.opt_out(stop(A, utcnow() - timedelta(days=40), "STOP old"))
        await store.opt_out(stop(B, utcnow(), "STOP new"))
        async with anyio.create_task_group() as tg:
            tg.start_soon(retention_task, store, 30, 0.01)
            with anyio.fail_after(5):
                while (await store.events(number=A))[0].text != REDACTED:
                    await anyio.sleep(0.01)
            tg.cancel_scope.cancel()
        assert (await store.events(number=B))[0].text == "STOP new"


async def test_postgres_trigger_allows_only_redaction() -> None:
    import psycopg

    with fresh_database() as url:
        async with PostgresStore(url) as store:
            await store.opt_out(stop(A, T0))
        with psycopg.connect(url, autocommit=True) as conn:
            refused = [
                "UPDATE events SET text = 'something else'",
                "UPDATE events SET number = '+447700900999'",
                "UPDATE events SET type = 'opt_in'",
                "UPDATE events SET suppressed = NULL",
                f"UPDATE events SET text = '{REDACTED}', keyword = 'HELP'",
                "DELETE FROM events",
                "TRUNCATE events",
            ]
            for statement in refused:
                with pytest.raises(psycopg.Error, match="append-only"):
                    conn.execute(statement)
            conn.execute(f"UPDATE events SET text = '{REDACTED}', reason = '{REDACTED}'")
            row = conn.execute("SELECT text, reason, keyword FROM events").fetchone()
            assert row == (REDACTED, REDACTED, "STOP")
