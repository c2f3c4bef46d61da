"""LISTEN/NOTIFY as a wake-up for change followers: a hint, never the source of truth.

Followers read the feed itself after every wake-up or time-out, so a notification lost while the
connection was down (or while nobody waited) costs one poll interval, nothing more. A reconnect
wakes the waiter at once so the follower catches up on what it missed.
"""

from __future__ import annotations

import contextlib

import anyio
import psycopg

from gateway.store.postgres.connection import Connection
from gateway.store.postgres.writes import CHANNEL


class Listener:
    def __init__(self, url: str, connect_timeout: float) -> None:
        self.url = url
        self.connect_timeout = connect_timeout
        self._conn: Connection | None = None

    async def wait(self, timeout: float) -> None:
        """Return on a notification, after a (re)connect, or after ``timeout`` seconds."""
        with anyio.move_on_after(timeout):
            if self._conn is None or self._conn.closed:
                try:
                    self._conn = await psycopg.AsyncConnection.connect(
                        self.url, autocommit=True, connect_timeout=max(1, int(self.connect_timeout))
                    )
                    await self._conn.execute(f"LISTEN {CHANNEL}")
                    return  # (re)connected: let the follower catch up now
                except (psycopg.Error, OSError):
                    await self.close()
                    await anyio.sleep(timeout)
                    return
            try:
                async for _ in self._conn.notifies(timeout=timeout, stop_after=1):
                    return
            except (psycopg.Error, OSError):
                await self.close()

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with anyio.CancelScope(shield=True), contextlib.suppress(psycopg.Error, OSError):
                await conn.close()
