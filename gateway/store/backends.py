"""Choosing the backend: PostgreSQL when a URL is configured, else the embedded SQLite file."""

from __future__ import annotations

import os

from gateway.store.base import Store
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SQLiteStore


def make_store(path: str | os.PathLike[str], url: str | None = None) -> Store:
    """The (unopened) store for ``[storage]``: ``url`` (PostgreSQL) wins over ``path`` (SQLite)."""
    if url:
        return PostgresStore(url)
    return SQLiteStore(path)
