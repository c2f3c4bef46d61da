"""The ``store`` fixture of the tests that hold for every backend: memory, SQLite and PostgreSQL (a
fresh database each), opened. Import it into a test module (``from tests.stores import store``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store import MemoryStore, SQLiteStore, Store
from gateway.store.postgres import PostgresStore
from tests.pgdb import fresh_database


@pytest.fixture(params=["memory", "sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "postgres":
        with fresh_database() as url:
            async with PostgresStore(url) as pg:
                yield pg
        return
    s: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "s.db")
    async with s:
        yield s
