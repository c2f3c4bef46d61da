"""SQLite stores with N suppressed numbers, built straight from the schema in
``gateway/store/sqlite/migrations`` and cached under /tmp, and copied for each run."""

from __future__ import annotations

import os
import shutil
import sqlite3
import time
from pathlib import Path
from typing import Final

from gateway.store.sqlite import migrations, split_sql
from tools.bench.mixes import SCOPE, STORED_PREFIX, SUPPRESSED_POOL

#: Bump when the layout of built stores changes (invalidates the cache).
STORE_FORMAT: Final = 1


def store_rows(size: int) -> int:
    """Rows a store of nominal ``size`` holds: ``size`` numbers, and never fewer than the pool."""
    return max(size, SUPPRESSED_POOL)


def build_store(path: Path, rows: int) -> float:
    """Create a store holding ``rows`` suppressed numbers (stored_number(0..rows-1), scope "acme") with
    one IMPORT event each, as ``import_suppressions`` would leave it; returns seconds taken.

    The schema comes from the store's own migrations; rows are generated inside SQLite (a recursive
    CTE), in key order, with journaling off, then the file is switched to WAL as the store expects.
    """
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB
        conn.execute("BEGIN")
        steps = migrations()
        for _, sql in steps:
            for statement in split_sql(sql):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {steps[-1][0]}")
        ts = int(time.time() * 1e6)
        conn.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)"
            " INSERT INTO events (id, ts, type, scope, number, channel, account, reason, suppressed)"
            " SELECT i + 1, ?, 'import', ?, printf('+%s%08d', ?, i), 'import', NULL, 'bench', 1 FROM seq",
            (rows, ts, SCOPE, STORED_PREFIX),
        )
        conn.execute(
            "INSERT INTO suppressions (scope, number, since, channel, keyword, reason, event_id)"
            " SELECT scope, number, ts, channel, NULL, reason, id FROM events ORDER BY id"
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.chmod(path, 0o600)
    return time.perf_counter() - started


def cached_store(size: int, cache_dir: Path) -> tuple[Path, float | None]:
    """The cached store file for ``size`` (built on first use): (path, build seconds or None if cached)."""
    rows = store_rows(size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"store-{rows}-v{STORE_FORMAT}.db"
    if path.exists():
        return path, None
    partial = path.with_name(path.name + ".building")
    took = build_store(partial, rows)
    partial.replace(path)
    return path, took


def copy_store(source: Path, target: Path) -> float:
    """Copy a cached store for one run (the proxy writes to it); returns seconds taken."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    return time.perf_counter() - started
