"""The SQLite schema: the numbered scripts in ``migrations/`` and applying them to a database."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from pathlib import Path

import aiosqlite
import anyio

from gateway.store.model import StoreError
from gateway.store.sql.scripts import numbered_scripts


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every file in ``migrations/``, in order; versions must be 1, 2, 3..."""
    return numbered_scripts(__package__ or "gateway.store.sqlite")


def split_sql(script: str) -> list[str]:
    """Split ``script`` into complete statements (trigger bodies and comments handled by SQLite).

    ``executescript`` would commit the surrounding BEGIN IMMEDIATE, so migrations run statement by
    statement inside it instead.
    """
    statements: list[str] = []
    start = 0
    for end in (m.end() for m in re.finditer(";", script)):
        candidate = script[start:end]
        if sqlite3.complete_statement(candidate):
            statements.append(candidate.strip())
            start = end
    if script[start:].strip() and sqlite3.complete_statement(script[start:] + ";"):
        raise ValueError("migration ends with an unterminated statement")
    return statements


async def migrate(conn: aiosqlite.Connection, path: Path) -> None:
    """Apply the migrations ``conn``'s database (the file ``path``) has not seen yet, atomically."""
    steps = migrations()
    # BEGIN IMMEDIATE takes the write lock before user_version is read, so two processes
    # opening a fresh file cannot both apply 0001.
    await conn.execute("BEGIN IMMEDIATE")
    try:
        rows = list(await conn.execute_fetchall("PRAGMA user_version"))
        current = int(rows[0][0])
        if current > len(steps):
            raise StoreError(f"{path} has schema version {current}; this release knows {len(steps)}")
        for version, sql in steps[current:]:
            for statement in split_sql(sql):
                await conn.execute(statement)
            await conn.execute(f"PRAGMA user_version = {version}")
        await conn.execute("COMMIT")
    except BaseException:
        with anyio.CancelScope(shield=True), contextlib.suppress(sqlite3.Error):
            await conn.execute("ROLLBACK")
        raise
