""":class:`SQLiteStore`: the embedded default :class:`Store`, one SQLite file, fsync on every commit.

Durability: ``synchronous=FULL`` in WAL mode fsyncs the log on every commit, so an opt-out that
:meth:`SQLiteStore.opt_out` returned for survives ``kill -9`` and power loss. Several processes may
share the file (the CLI while the proxy runs); writers wait up to ``busy_timeout`` for each other
and then fail with :class:`StoreError`.

:class:`~gateway.store.sql.facade.SQLStore` checks arguments and frames transactions; this class
supplies :mod:`.connection` (the connections and the write lock), :mod:`.writes`,
:mod:`.consents`, :mod:`.outbox` and :mod:`.bulk_import` (the bodies of write transactions) and
:mod:`.reads` (the queries of its own), and adds the check that the file is still the one opened.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import aiosqlite

from gateway.store.sql.dialect import SQLITE
from gateway.store.sql.facade import SQLStore
from gateway.store.sqlite import bulk_import, consents, outbox, reads, writes
from gateway.store.sqlite.connection import Database, checked_pragmas


class SQLiteStore(SQLStore[Database, aiosqlite.Connection]):
    """:class:`Store` on one SQLite file (created 0600, WAL, ``synchronous=FULL``).

    ``pragmas`` are applied to every connection after migrations (tuning such as ``cache_size``;
    tests use ``query_only`` and ``max_page_count`` to simulate a read-only or full disk).
    ``open()`` raises :class:`StoreError` naming the path and the reason when the file cannot be
    opened, migrated or switched to WAL (``":memory:"`` is refused: the store needs a file).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        busy_timeout: float = 5.0,
        pragmas: Mapping[str, int | str] | None = None,
    ) -> None:
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        super().__init__(
            Database(self.path, busy_timeout, checked_pragmas(pragmas)),
            dialect=SQLITE,
            reads=reads,
            bulk=bulk_import,
            writes=writes,
            consent_writes=consents,
            outbox=outbox,
        )

    # -- health --------------------------------------------------------------------------------

    async def check_writable(self) -> None:
        """Commit a heartbeat row, and verify the file on disk is still the one we opened."""
        await self.db.check_identity()
        await super().check_writable()
