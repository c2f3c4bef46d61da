"""The embedded default store: one SQLite file in WAL mode, fsync on every commit.

:mod:`.store` configures the shared :class:`~gateway.store.sql.facade.SQLStore` with
:mod:`.connection` (connections, write lock, WAL), :mod:`.schema` (migrations), :mod:`.writes`,
:mod:`.consents`, :mod:`.outbox` and :mod:`.bulk_import` (the write side) and :mod:`.reads` (its own
queries); :mod:`.files` handles the file itself.
"""

from gateway.store.sqlite.schema import migrations, split_sql
from gateway.store.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore", "migrations", "split_sql"]
