"""The connection pool to one PostgreSQL database and the rules for using it.

Every write is one short transaction on a pooled connection, shielded from cancellation once begun
(a started commit always finishes or fails, never half-waits). Reads run in autocommit. Every
driver or network failure becomes :class:`StoreError`, so the proxy answers with a temporary error
and the SMSC redelivers, as with SQLite.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

import anyio
import psycopg
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from gateway.store.model import StoreClosedError, StoreError
from gateway.store.postgres.schema import migrate

Connection = psycopg.AsyncConnection[tuple[Any, ...]]


@contextlib.contextmanager
def translated(action: str) -> Iterator[None]:
    """Turn psycopg / pool / OS errors into :class:`StoreError`, cause chained."""
    try:
        yield
    except StoreError:
        raise
    except (psycopg.Error, PoolTimeout, OSError) as exc:
        raise StoreError(f"{action} failed: {exc}") from exc


def redacted(url: str) -> str:
    """``url`` without a password, for messages and logs."""
    info = psycopg.conninfo.conninfo_to_dict(url)
    info.pop("password", None)
    return psycopg.conninfo.make_conninfo("", **info)


#: Longest wait for a pooled connection. Commits take milliseconds, so a longer wait means the server
#: is unreachable: fail then (the SMSC gets a temporary error and redelivers the STOP) instead of
#: holding the deliver_sm past the SMSC's response timeout.
ACQUIRE_TIMEOUT = 2.0


class Database:
    """A pool of connections to the database at ``url``, migrated when opened."""

    def __init__(self, url: str, *, timeout: float, min_size: int, max_size: int) -> None:
        self.url = url
        self.timeout = timeout
        self.acquire_timeout = min(timeout, ACQUIRE_TIMEOUT)
        self.min_size = min_size
        self.max_size = max_size
        self.pool: AsyncConnectionPool[Connection] | None = None

    @property
    def name(self) -> str:
        return redacted(self.url)

    async def open(self) -> None:
        """Migrate, then open the pool; a no-op when open."""
        if self.pool is not None:
            return
        with translated(f"opening {self.name}"):
            conn = await psycopg.AsyncConnection.connect(
                self.url, autocommit=True, connect_timeout=max(1, int(self.timeout))
            )
            async with conn:
                await migrate(conn)
            pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
                self.url,
                min_size=self.min_size,
                max_size=self.max_size,
                timeout=self.timeout,
                kwargs={"autocommit": True, "connect_timeout": max(1, int(self.timeout))},
                open=False,
                # A connection that died with the server is found and replaced before use.
                check=AsyncConnectionPool.check_connection,
            )
            try:
                await pool.open(wait=True, timeout=self.timeout)
            except BaseException:
                with anyio.CancelScope(shield=True):
                    await pool.close()
                raise
        self.pool = pool

    async def close(self) -> None:
        pool, self.pool = self.pool, None
        if pool is not None:
            with anyio.CancelScope(shield=True), translated("closing the store"):
                await pool.close()

    def check_open(self) -> AsyncConnectionPool[Connection]:
        if self.pool is None:
            raise StoreClosedError(f"store {self.name} is not open")
        return self.pool

    @contextlib.asynccontextmanager
    async def connection(self, action: str) -> AsyncIterator[Connection]:
        """A pooled connection in autocommit mode."""
        pool = self.check_open()
        with translated(action):
            async with pool.connection(timeout=self.acquire_timeout) as conn:
                yield conn

    async def fetch(
        self, action: str, query: str, params: Sequence[Any] | Mapping[str, Any] = ()
    ) -> list[Any]:
        """The rows of one autocommit query; failures are :class:`StoreError` naming ``action``."""
        async with self.connection(action) as conn:
            cur = await conn.execute(query.encode(), params)
            return await cur.fetchall()

    @contextlib.asynccontextmanager
    async def transaction(self, action: str) -> AsyncIterator[Connection]:
        """One transaction on a pooled connection, shielded from cancellation once begun."""
        pool = self.check_open()
        with anyio.CancelScope(shield=True), translated(action):
            async with pool.connection(timeout=self.acquire_timeout) as conn, conn.transaction():
                yield conn
