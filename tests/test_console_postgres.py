"""The console's counts on PostgreSQL: migration 0007's triggers against the in-memory store's scan of
the log, under concurrent writers, and the backfill of a log written before the migration (issue 17)."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import anyio
import psycopg
import pytest

from gateway.store import DayCount, EventType, MemoryStore, Total
from gateway.store.postgres import PostgresStore
from gateway.store.postgres.schema import migrations
from tests.pgdb import pg_url
from tests.test_console import DAY1, DAY2, _counts, _event, _fill

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest


async def test_postgres_counts_kept_by_triggers_match_a_scan_of_the_log(pg_url: str) -> None:
    memory = MemoryStore()
    await memory.open()
    await _fill(memory)
    scanned = await _counts(memory)
    store = PostgresStore(pg_url)
    await store.open()
    try:
        await _fill(store)
        kept = await _counts(store)
    finally:
        await store.close()
    assert kept["daily_acme"] == [
        DayCount(DAY1.date(), EventType.OPT_OUT, 2, 1),
        DayCount(DAY2.date(), EventType.ADMIN_REMOVE, 1, 1),
        DayCount(DAY2.date(), EventType.BLOCKED, 3, 0),
        DayCount(DAY2.date(), EventType.OPT_OUT, 1, 1),
    ]
    assert kept["campaign"] == [
        Total("acme", EventType.OPT_OUT, "spring", 2, 1),
        Total("acme", EventType.OPT_OUT, "summer", 1, 1),
    ]
    assert kept["size"] == (2, 1)
    assert kept == scanned


async def test_concurrent_writers_on_many_connections_are_all_counted(pg_url: str) -> None:
    # Eight connections write at once: the counts spread over shard rows and must still add up.
    store = PostgresStore(pg_url, min_size=8, max_size=8)
    await store.open()
    try:

        async def writer(w: int) -> None:
            for i in range(25):
                number = f"+4477009{w:02d}{i:03d}"
                await store.opt_out(_event(EventType.OPT_OUT, number, DAY1, keyword="STOP"))
                await store.append_events([_event(EventType.BLOCKED, number, DAY1) for _ in range(2)])
                if i % 5 == 0:
                    await store.opt_in(_event(EventType.OPT_IN, number, DAY1, keyword="START"))

        async with anyio.create_task_group() as tg:
            for w in range(8):
                tg.start_soon(writer, w)
        assert await store.daily_counts(DAY1.date()) == [
            DayCount(DAY1.date(), EventType.BLOCKED, 400, 0),
            DayCount(DAY1.date(), EventType.OPT_IN, 40, 40),
            DayCount(DAY1.date(), EventType.OPT_OUT, 200, 200),
        ]
        assert await store.suppression_count() == 160
        assert await store.suppression_count("acme") == 160
        assert await store.suppression_count("nowhere") == 0
    finally:
        await store.close()


async def test_migration_0007_counts_a_log_written_before_it(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    try:
        await _fill(store)
        expected: dict[str, Any] = await _counts(store)
    finally:
        await store.close()
    # Empty the counts, as in a database written before 0007, and run 0007's backfill on the log.
    sql = migrations()[6][1]
    assert sql.startswith("-- Stopgate PostgreSQL schema, version 7")
    backfill = re.findall(r"^INSERT INTO .*?;$", sql, re.DOTALL | re.MULTILINE)  # not the indented ones
    assert len(backfill) == 4
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("TRUNCATE event_days, optout_keywords, optout_campaigns, suppression_counts")
        for statement in backfill:
            conn.execute(statement.encode())
    store = PostgresStore(pg_url)
    await store.open()
    try:
        assert await _counts(store) == expected
        # The other scope's HELP (its import is stamped today, not on these days).
        beta = await store.daily_counts(date(2025, 4, 11), "beta")
        assert DayCount(DAY2.date(), EventType.HELP, 1, 0) in beta
    finally:
        await store.close()
