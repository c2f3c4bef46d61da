"""The PostgreSQL schema: the numbered scripts in ``migrations/``, applied once each, fleet-safe.

Every process of a fleet runs :func:`migrate` at start (and ``stopgate store migrate`` runs it alone).
A session-level advisory lock serialises them: the first applies what is missing, each in its own
transaction recorded in ``schema_migrations``; the others then find nothing left to do.
"""

from __future__ import annotations

import re
from importlib import resources
from typing import Any

import psycopg

from gateway.store.model import StoreError

_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
#: pg_advisory_lock key held while migrating ("stopgate" in ASCII, truncated to 63 bits).
MIGRATION_LOCK = 0x73746F7067617465


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every file in ``migrations/``, in order; versions must be 1, 2, 3..."""
    found: list[tuple[int, str]] = []
    folder = resources.files(__package__ or "gateway.store.postgres").joinpath("migrations")
    for entry in folder.iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 0001, 0002, ...; found {versions}")
    return found


async def applied_versions(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> list[int]:
    """The versions recorded in ``schema_migrations`` (empty on a fresh database)."""
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    if not row or not row[0]:
        return []
    cur = await conn.execute("SELECT version FROM schema_migrations ORDER BY version")
    return [int(v) for (v,) in await cur.fetchall()]


async def migrate(conn: psycopg.AsyncConnection[tuple[Any, ...]]) -> list[int]:
    """Apply the migrations ``conn``'s database lacks; returns the versions applied now.

    ``conn`` must be in autocommit mode (each migration is its own transaction).
    """
    steps = migrations()
    await conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
    try:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = set(await applied_versions(conn))
        if done and max(done) > len(steps):
            raise StoreError(
                f"the database has schema version {max(done)}; this release knows {len(steps)}"
            )
        applied: list[int] = []
        for version, sql in steps:
            if version in done:
                continue
            async with conn.transaction():
                await conn.execute(sql.encode())
                await conn.execute(
                    "INSERT INTO schema_migrations (version) VALUES (%s)", (version,)
                )
            applied.append(version)
        return applied
    finally:
        await conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK,))
