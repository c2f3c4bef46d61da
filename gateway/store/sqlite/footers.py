"""SQLite side of :class:`~gateway.store.guards.SentGuards`: footers and confirmations sent."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from gateway.store.guards import FOOTER_PAGE
from gateway.store.rows import from_micros, to_micros
from gateway.store.sqlite.connection import Database


async def record_footers(db: Database, rows: Sequence[tuple[str, str, datetime]]) -> None:
    if not rows:
        return
    async with db.transaction("recording footers sent") as conn:
        await conn.executemany(
            "INSERT INTO footers_sent (scope, number, sent_at) VALUES (?, ?, ?)"
            " ON CONFLICT (scope, number) DO UPDATE"
            " SET sent_at = max(sent_at, excluded.sent_at)",
            # In key order: two processes' batches then lock shared rows in the same order.
            [(scope, number, to_micros(at)) for scope, number, at in sorted(rows)],
        )


async def footers_since(db: Database, since: datetime, limit: int) -> list[tuple[str, str, datetime]]:
    rows = await db.fetch(
        "reading footers sent",
        "SELECT scope, number, sent_at FROM footers_sent WHERE sent_at >= ? ORDER BY sent_at LIMIT ?",
        (to_micros(since), limit),
    )
    return [(str(scope), str(number), from_micros(int(at))) for scope, number, at in rows]


async def purge_footers(db: Database, before: datetime) -> int:
    async with db.transaction("purging footers sent") as conn:
        cursor = await conn.execute("DELETE FROM footers_sent WHERE sent_at < ?", (to_micros(before),))
        return cursor.rowcount


async def claim_confirmation(
    db: Database, scope: str, number: str, kind: str, at: datetime, window: float
) -> bool:
    async with db.transaction("claiming a confirmation") as conn:
        # The conditional upsert changes no row when a claim within the window stands.
        cursor = await conn.execute(
            "INSERT INTO confirmations_sent (scope, number, kind, sent_at) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (scope, number, kind) DO UPDATE SET sent_at = excluded.sent_at"
            " WHERE confirmations_sent.sent_at <= excluded.sent_at - ?",
            (scope, number, kind, to_micros(at), round(window * 1_000_000)),
        )
        return cursor.rowcount == 1


async def release_confirmation(db: Database, scope: str, number: str, kind: str, at: datetime) -> None:
    async with db.transaction("releasing a confirmation") as conn:
        await conn.execute(
            "DELETE FROM confirmations_sent WHERE scope = ? AND number = ? AND kind = ? AND sent_at = ?",
            (scope, number, kind, to_micros(at)),
        )


async def purge_confirmations(db: Database, before: datetime) -> int:
    async with db.transaction("purging confirmations sent") as conn:
        cursor = await conn.execute("DELETE FROM confirmations_sent WHERE sent_at < ?", (to_micros(before),))
        return cursor.rowcount


class FooterGuards:
    """The store's :class:`~gateway.store.guards.SentGuards` methods, mixed into its class."""

    db: Database

    async def record_footers(self, rows: Sequence[tuple[str, str, datetime]]) -> None:
        await record_footers(self.db, rows)

    async def footers_since(
        self, since: datetime, limit: int = FOOTER_PAGE
    ) -> list[tuple[str, str, datetime]]:
        return await footers_since(self.db, since, limit)

    async def purge_footers(self, before: datetime) -> int:
        return await purge_footers(self.db, before)

    async def claim_confirmation(
        self, scope: str, number: str, kind: str, at: datetime, window: float
    ) -> bool:
        return await claim_confirmation(self.db, scope, number, kind, at, window)

    async def release_confirmation(self, scope: str, number: str, kind: str, at: datetime) -> None:
        await release_confirmation(self.db, scope, number, kind, at)

    async def purge_confirmations(self, before: datetime) -> int:
        return await purge_confirmations(self.db, before)
