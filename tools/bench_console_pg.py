"""The PostgreSQL half of ``python -m tools.bench_console --postgres URL``.

Builds the same data as the SQLite bench (see :mod:`tools.bench_console`) inside PostgreSQL with
``generate_series``, at schema version 6 (the log before migration 0007's counts existed), so that
opening it with :class:`PostgresStore` applies 0007 and its backfill (timed). The database at ``URL``
must exist and be empty, or hold a store this tool built before (then it is reused).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from gateway.store import Aggregates
from gateway.store.postgres import PostgresStore
from gateway.store.postgres.schema import migrations
from tools import bench_console_common
from tools.bench_console_common import DAYS, KEYWORDS, SCOPES, mix_cases

#: The last schema version before the console's counts.
BEFORE_COUNTS = 6


def _array(items: tuple[str, ...]) -> str:
    return "ARRAY[" + ",".join(f"'{i}'" for i in items) + "]"


def build(url: str, suppressions: int, events: int) -> float | None:
    """Fill the empty database at ``url``; seconds taken, or None if it already holds a built store."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        found = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
        if found and found[0]:
            return None
        conn.execute(
            "CREATE TABLE schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        for version, sql in migrations()[:BEFORE_COUNTS]:
            conn.execute(sql.encode())
            conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
        now = int(time.time() * 1e6)
        start = now - DAYS * 86_400_000_000
        span = now - start
        per_scope = suppressions // len(SCOPES) + 1
        conn.execute(
            "INSERT INTO events (id, ts, type, scope, number, channel, reason, suppressed)"
            f" SELECT i + 1, %(start)s + i, 'import', ({_array(SCOPES)})[i / %(per)s + 1],"
            " '+4477' || lpad((i %% %(per)s)::text, 8, '0'), 'import', 'bench', 1"
            " FROM generate_series(0::bigint, %(n)s - 1) AS i",
            {"start": start, "per": per_scope, "n": suppressions},
        )
        conn.execute(
            "INSERT INTO suppressions (scope, number, since, channel, keyword, reason, event_id)"
            " SELECT scope, number, ts, channel, NULL, reason, id FROM events"
        )
        others = max(events - suppressions, 0)
        case_type, case_channel = mix_cases()
        if others:
            conn.execute(
                "INSERT INTO events (id, ts, type, scope, number, channel, account, keyword, text,"
                " campaign, reason, suppressed)"
                f" SELECT %(sup)s + i + 1, %(start)s + i * (%(span)s / %(n)s), CASE {case_type} ELSE"
                f" 'blocked' END, ({_array(SCOPES)})[k %% 3 + 1],"
                " '+4477' || lpad((k %% %(numbers)s)::text, 8, '0'),"
                f" CASE {case_channel} ELSE 'sms' END, 'acme',"
                f" CASE WHEN r >= 0.80 AND r < 0.87 THEN ({_array(KEYWORDS)})[k %% 6 + 1] END,"
                " CASE WHEN r >= 0.80 AND r < 0.87 THEN 'Stop' END,"
                " CASE WHEN r < 0.87 THEN 'campaign-' || (k %% 40) END,"
                " CASE WHEN r >= 0.98 THEN 'bench' END,"
                " CASE WHEN r >= 0.80 AND r < 0.87 THEN 1 WHEN r >= 0.96 AND r < 0.98 THEN 0 END"
                " FROM (SELECT i, random() AS r, (random() * 2147483647)::bigint AS k"
                "       FROM generate_series(0::bigint, %(n)s - 1) AS i) AS rows",
                {"sup": suppressions, "start": start, "span": span, "n": others, "numbers": per_scope * 2},
            )
        conn.execute("SELECT setval('events_id_seq', (SELECT max(id) FROM events))")
        conn.execute(
            "INSERT INTO sent_counts (day, scope, campaign, sent)"
            " SELECT to_char(to_timestamp((%(start)s + d * 86400000000) / 1e6) AT TIME ZONE 'UTC',"
            " 'YYYY-MM-DD'), s, 'campaign-' || c, 2000 + 37 * c"
            f" FROM generate_series(0, %(days)s) AS d, unnest({_array(SCOPES)}) AS s,"
            " generate_series(0, 39) AS c ON CONFLICT DO NOTHING",
            {"start": start, "days": DAYS},
        )
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started


async def open_store(url: str) -> tuple[PostgresStore, list[int]]:
    """The store at ``url``, opened (migrating it); and the versions that opening applied."""
    with psycopg.connect(url, autocommit=True) as conn:
        before = set(_versions(conn))
    store = PostgresStore(url)
    await store.open()
    with psycopg.connect(url, autocommit=True) as conn:
        after = set(_versions(conn))
    return store, sorted(after - before)


def _versions(conn: psycopg.Connection[Any]) -> list[int]:
    row = conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL").fetchone()
    if not row or not row[0]:
        return []
    return [int(v) for (v,) in conn.execute("SELECT version FROM schema_migrations").fetchall()]


async def add_honour_rows(store: PostgresStore, rows: int) -> None:
    """``rows`` SMS opt-outs with an MO arrival time over the last 365 days (once; see the SQLite bench)."""
    async with store.db.transaction("adding opt-outs with arrival times") as conn:
        cur = await conn.execute("SELECT 1 FROM events WHERE received_at IS NOT NULL LIMIT 1")
        if await cur.fetchone() is not None:
            return
        await conn.execute(
            "INSERT INTO events (ts, type, scope, number, channel, account, keyword, text, received_at)"
            " SELECT ts, 'opt_out', 'acme', '+4479' || lpad(i::text, 8, '0'), 'sms', 'acme', 'STOP', 'Stop',"
            " ts - 5000 - (i * 7919) %% 1995000"
            " FROM (SELECT i, (extract(epoch FROM now()) * 1000000)::bigint - 365 * 86400000000::bigint"
            "       + i * (365 * 86400000000::bigint / %(n)s) AS ts"
            "       FROM generate_series(1::bigint, %(n)s) AS i) AS rows",
            {"n": rows},
        )
    async with store.db.connection("analyzing") as conn:
        await conn.execute("ANALYZE events")


async def scan_overview(store: PostgresStore, days: int) -> float:
    """Seconds the overview's reads take through the scanning defaults of :class:`Aggregates` (what
    PostgreSQL answered before migration 0007), for the ``days`` days ending today: the comparison."""
    first = datetime.now(UTC).date() - timedelta(days=days - 1)
    t0 = time.perf_counter()
    await Aggregates.daily_counts(store, first)
    for by in ("channel", "keyword", "campaign"):
        await Aggregates.totals(store, by, first)
    await Aggregates.suppression_count(store)
    return time.perf_counter() - t0


async def append_cost(store: PostgresStore) -> dict[str, float]:
    """Microseconds per blocked event appended, with and without the counting trigger."""

    async def trigger(on: bool) -> None:
        action = "ENABLE" if on else "DISABLE"
        async with store.db.transaction("bench") as conn:
            await conn.execute(f"ALTER TABLE events {action} TRIGGER events_count".encode())

    return await bench_console_common.append_cost(store, trigger)
