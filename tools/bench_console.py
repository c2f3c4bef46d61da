"""How fast the console's overview renders on a big store (issue 17: <= 300 ms at 10M / 50M).

Builds a SQLite store at schema version 1 (the log before the console existed) straight inside
SQLite (or, with ``--postgres URL``, a PostgreSQL one at version 6: :mod:`tools.bench_console_pg`):
``--suppressions`` numbers opted out by import (one IMPORT event each) and enough other events
(blocked 80%, opt-outs, HELP, confirmations, opt-ins, operator changes) to make ``--events`` in all,
spread over 400 days, three scopes, 40 campaigns and six keywords. Opening it applies migration
0007, which fills the daily counts from the log (timed: what an upgrade costs once). Then it signs
in to the console over ASGI and times ``GET /ui/`` for 30, 90 and 365 days, all scopes and one,
and a number lookup; and the cost the counting trigger adds to appending blocked events (batches of
100, as the proxy flushes them).

    python -m tools.bench_console --suppressions 1000000 --events 5000000
    python -m tools.bench_console --suppressions 10000000 --events 50000000 --keep /tmp/big.db
    createdb -h 127.0.0.1 -U postgres console_bench
    python -m tools.bench_console --postgres postgresql://postgres@127.0.0.1/console_bench
"""

from __future__ import annotations

import sqlite3
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx

from gateway.config import parse_config
from gateway.ops.admin import AdminServer
from gateway.store import Store
from gateway.store.sqlite import SQLiteStore, migrations, split_sql
from tools import bench_console_common, bench_console_pg
from tools.bench_console_common import DAYS, HONOUR_ROWS, KEYWORDS, SCOPES, console_arguments, mix_cases
from tools.console_client import admin_context, sign_in

TOKEN = "bench-token"
HONOUR_SQL = (
    "WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < ?1),"
    " rows AS (SELECT i, CAST(strftime('%s', 'now') AS INTEGER) * 1000000 - 365 * 86400000000"
    "   + i * (365 * 86400000000 / ?1) AS ts FROM seq)"
    " INSERT INTO events (ts, type, scope, number, channel, account, keyword, text, received_at)"
    " SELECT ts, 'opt_out', 'acme', printf('+4479%08d', i), 'sms', 'acme', 'STOP', 'Stop',"
    " ts - 5000 - (i * 7919) % 1995000 FROM rows"
)


def build(path: Path, suppressions: int, events: int) -> float:
    """A version-1 store with the rows above; returns seconds taken."""
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -2097152")  # 2 GiB
        conn.execute("BEGIN")
        for statement in split_sql(migrations()[0][1]):
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        now = int(time.time() * 1e6)
        start = now - DAYS * 86_400_000_000
        span = now - start
        # Imports first (oldest), in key order: scope by block, numbers ascending.
        per_scope = suppressions // len(SCOPES) + 1
        conn.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)"
            " INSERT INTO events (id, ts, type, scope, number, channel, reason, suppressed)"
            " SELECT i + 1, ? + i, 'import', ?3 ->> (i / ?4), printf('+4477%08d', i % ?4), 'import',"
            " 'bench', 1 FROM seq",
            (suppressions, start, _json_list(SCOPES), per_scope),
        )
        conn.execute(
            "INSERT INTO suppressions (scope, number, since, channel, keyword, reason, event_id)"
            " SELECT scope, number, ts, channel, NULL, reason, id FROM events ORDER BY scope, number"
        )
        others = max(events - suppressions, 0)
        case_type, case_channel = mix_cases()
        conn.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?1),"
            " rows AS (SELECT i, (abs(random()) % 1000000) / 1000000.0 AS r, abs(random()) AS k FROM seq)"
            " INSERT INTO events (id, ts, type, scope, number, channel, account, keyword, text, campaign,"
            " reason, suppressed)"
            f" SELECT ?2 + i + 1, ?3 + i * (?4 / ?1), CASE {case_type} ELSE 'blocked' END,"
            " ?5 ->> (k % 3), printf('+4477%08d', k % ?6),"
            f" CASE {case_channel} ELSE 'sms' END, 'acme',"
            " CASE WHEN r >= 0.80 AND r < 0.87 THEN ?7 ->> (k % 6) END,"
            " CASE WHEN r >= 0.80 AND r < 0.87 THEN 'Stop' END,"
            " CASE WHEN r < 0.87 THEN 'campaign-' || (k % 40) END,"
            " CASE WHEN r >= 0.98 THEN 'bench' END,"
            " CASE WHEN r >= 0.80 AND r < 0.87 THEN 1 WHEN r >= 0.96 AND r < 0.98 THEN 0 END"
            " FROM rows",
            (others, suppressions, start, span, _json_list(SCOPES), per_scope * 2, _json_list(KEYWORDS)),
        )
        sent = [
            (
                datetime.fromtimestamp((start + d * 86_400_000_000) / 1e6, UTC).strftime("%Y-%m-%d"),
                scope,
                f"campaign-{c}",
                2000 + 37 * c,
            )
            for d in range(DAYS + 1)
            for scope in SCOPES
            for c in range(40)
        ]
        conn.executemany(
            "INSERT OR IGNORE INTO sent_counts (day, scope, campaign, sent) VALUES (?, ?, ?, ?)", sent
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    return time.perf_counter() - started


def _json_list(items: tuple[str, ...]) -> str:
    return "[" + ",".join(f'"{i}"' for i in items) + "]"


async def timed_sqlite(path: Path, runs: int) -> dict[str, Any]:
    started = time.perf_counter()
    store = SQLiteStore(path, pragmas={"cache_size": -262144})
    await store.open()  # applies migration 0007 (fills the daily counts from the log)
    results: dict[str, Any] = {"open_and_migrate_s": round(time.perf_counter() - started, 2)}
    try:
        async with store.db.transaction("adding opt-outs with arrival times") as conn:
            found = await conn.execute_fetchall("SELECT 1 FROM events WHERE received_at IS NOT NULL LIMIT 1")
            if not list(found):
                await conn.execute(HONOUR_SQL, (HONOUR_ROWS,))
        results.update(await timed_pages(store, path.parent, runs))
        results["append_blocked_us_per_event"] = await append_cost(store)
    finally:
        await store.close()
    return results


async def timed_postgres(url: str, runs: int, scan: bool) -> dict[str, Any]:
    started = time.perf_counter()
    store, applied = await bench_console_pg.open_store(url)
    results: dict[str, Any] = {
        "open_and_migrate_s": round(time.perf_counter() - started, 2),
        "migrations_applied": applied,
    }
    try:
        await bench_console_pg.add_honour_rows(store, HONOUR_ROWS)
        results.update(await timed_pages(store, Path.cwd(), runs))
        results["append_blocked_us_per_event"] = await bench_console_pg.append_cost(store)
        if scan:
            t = await bench_console_pg.scan_overview(store, 30)
            results["30-day overview's reads by scanning the log (before 0007), once"] = f"{t * 1000:.0f} ms"
    finally:
        await store.close()
    return results


async def timed_pages(store: Store, folder: Path, runs: int) -> dict[str, Any]:
    results: dict[str, Any] = {}
    config = parse_config(
        {
            "admin": {"listen": "127.0.0.1:0", "tokens": [TOKEN]},
            "upstream": [
                {"name": "sim", "host": "127.0.0.1", "port": 2775, "system_id": "p", "password": "p"}
            ],
            "account": [{"system_id": s, "password": "pw", "upstream": "sim", "scope": s} for s in SCOPES],
        },
        folder,
    )
    context = admin_context(store, config)
    server = AdminServer(context)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=server.asgi), base_url="http://admin", timeout=60
    ) as client:
        await sign_in(client, TOKEN)
        pages = {
            "overview 30 days, all scopes": "/ui/?days=30",
            "overview 90 days, all scopes": "/ui/?days=90",
            "overview 365 days, all scopes": "/ui/?days=365",
            "overview 365 days, scope acme": "/ui/?days=365&scope=acme",
            "number lookup": "/ui/numbers?number=07700000042",
            "suppression list, first page": "/ui/suppressions",
        }
        for name, url in pages.items():
            times = []
            for _ in range(runs):
                t0 = time.perf_counter()
                resp = await client.get(url)
                times.append((time.perf_counter() - t0) * 1000)
                assert resp.status_code == 200, (url, resp.status_code, resp.text[:500])
            results[name] = {
                "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1),
            }
    return results


async def append_cost(store: SQLiteStore) -> dict[str, float]:
    """Microseconds per blocked event appended, with and without the counting trigger."""
    writer = store.db.writer
    assert writer is not None
    sql = next(s for s in split_sql(migrations()[6][1]) if "TRIGGER events_count_day" in s)

    async def trigger(on: bool) -> None:
        await writer.execute(sql if on else "DROP TRIGGER events_count_day")

    return await bench_console_common.append_cost(store, trigger)


def main() -> None:
    parser = console_arguments("python -m tools.bench_console", __doc__.splitlines()[0], runs=7)
    parser.add_argument(
        "--postgres", metavar="URL", help="bench PostgreSQL: an empty database (or one built before)"
    )
    parser.add_argument(
        "--scan", action="store_true", help="with --postgres: also time the scanning fallback, once"
    )
    args = parser.parse_args()
    if args.postgres:
        took = bench_console_pg.build(args.postgres, args.suppressions, args.events)
        if took is not None:
            print(
                f"built {args.suppressions:,} suppressions / {args.events:,} events in {took:.1f} s",
                flush=True,
            )
        print(f"store {args.postgres}", flush=True)
        for name, value in anyio.run(timed_postgres, args.postgres, args.runs, args.scan).items():
            print(f"  {name}: {value}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / "console-bench.db"
        if not path.exists():
            took = build(path, args.suppressions, args.events)
            print(
                f"built {args.suppressions:,} suppressions / {args.events:,} events in {took:.1f} s",
                flush=True,
            )
        size = path.stat().st_size / 2**30
        print(f"store {path} ({size:.1f} GiB)", flush=True)
        for name, value in anyio.run(timed_sqlite, path, args.runs).items():
            print(f"  {name}: {value}")


if __name__ == "__main__":
    main()
