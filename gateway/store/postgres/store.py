""":class:`PostgresStore`: the :class:`Store` a fleet of Stopgate processes shares.

Same interface and semantics as :class:`~gateway.store.sqlite.SQLiteStore`, with two differences a
fleet needs: the change feed's cursor is commit-safe across processes (:mod:`.reads`), and followers
are woken by NOTIFY (:mod:`.listener`) instead of only polling.
:class:`~gateway.store.sql.facade.SQLStore` checks arguments and frames transactions; this class
supplies :mod:`.connection` (the pool), :mod:`.writes`, :mod:`.consents`, :mod:`.outbox` and
:mod:`.bulk_import` (the write transactions) and :mod:`.reads` (the queries of its own); :mod:`.schema`
holds the migrations.
"""

from __future__ import annotations

from gateway.store.postgres import bulk_import, consents, outbox, reads, writes
from gateway.store.postgres.connection import Connection, Database
from gateway.store.postgres.listener import Listener
from gateway.store.sql.dialect import POSTGRES
from gateway.store.sql.facade import SQLStore


class PostgresStore(SQLStore[Database, Connection]):
    """:class:`Store` on the PostgreSQL database at ``url`` (``postgresql://user@host/db``)."""

    def __init__(self, url: str, *, timeout: float = 5.0, min_size: int = 1, max_size: int = 8) -> None:
        self.url = url
        super().__init__(
            Database(url, timeout=timeout, min_size=min_size, max_size=max_size),
            dialect=POSTGRES,
            reads=reads,
            bulk=bulk_import,
            writes=writes,
            consent_writes=consents,
            outbox=outbox,
        )
        self.listener = Listener(url, timeout)

    def __repr__(self) -> str:
        return f"PostgresStore({self.db.name!r})"

    # -- lifecycle -----------------------------------------------------------------------------

    async def close(self) -> None:
        await self.listener.close()
        await super().close()

    # -- change feed: commit marks and NOTIFY wake-ups -----------------------------------------

    async def commit_mark(self) -> int:
        return await reads.snapshot_bound(self.db, "xmax")

    async def settled_mark(self) -> int:
        return await reads.snapshot_bound(self.db, "xmin")

    async def wait_for_change(self, timeout: float) -> None:
        self.db.check_open()
        await self.listener.wait(timeout)
