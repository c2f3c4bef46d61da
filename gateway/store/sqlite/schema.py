"""The SQLite schema: the numbered scripts in ``migrations/`` and applying them to a database."""

from __future__ import annotations

import contextlib
import re
import sqlite3
from importlib import resources
from pathlib import Path

import aiosqlite
import anyio

from gateway.store.model import StoreError

_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


def migrations() -> list[tuple[int, str]]:
    """(version, sql) of every file in ``migrations/``, in order; versions must be 1, 2, 3..."""
    found: list[tuple[int, str]] = []
    for entry in resources.files(__package__ or "gateway.store.sqlite").joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 0001, 0002, ...; found {versions}")
    return found


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
