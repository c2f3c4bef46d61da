"""The PostgreSQL store a fleet of Stopgate processes shares (``storage.url``).

:mod:`.store` composes :mod:`.connection` (the pool), :mod:`.schema` (tracked migrations under an
advisory lock), :mod:`.writes` and :mod:`.bulk_import` (the write side), :mod:`.reads` (queries and
the commit-safe change feed) and :mod:`.listener` (NOTIFY wake-ups).
"""

from gateway.store.postgres.schema import migrations
from gateway.store.postgres.store import PostgresStore

__all__ = ["PostgresStore", "migrations"]
