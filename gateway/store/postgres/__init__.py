"""The PostgreSQL store a fleet of Stopgate processes shares (``storage.url``).

:mod:`.store` configures the shared :class:`~gateway.store.sql.facade.SQLStore` with
:mod:`.connection` (the pool), :mod:`.schema` (tracked migrations under an advisory lock),
:mod:`.writes`, :mod:`.consents`, :mod:`.outbox` and :mod:`.bulk_import` (the write side), :mod:`.reads`
(its own queries and the commit-safe change feed) and :mod:`.listener` (NOTIFY wake-ups).
"""

from gateway.store.postgres.schema import migrations
from gateway.store.postgres.store import PostgresStore

__all__ = ["PostgresStore", "migrations"]
