"""The in-memory store's footers and confirmations sent (:class:`~gateway.store.guards.SentGuards`),
with the SQL backends' semantics."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from gateway.store.guards import FOOTER_PAGE
from gateway.store.model import as_utc


class MemoryGuards:
    """Mixed into :class:`~gateway.store.memory.MemoryStore`, which provides the checks."""

    _footers_sent: dict[tuple[str, str], datetime]
    _confirmations_sent: dict[tuple[str, str, str], datetime]

    async def _read(self) -> None:
        raise NotImplementedError

    async def _write(self) -> None:
        raise NotImplementedError

    async def record_footers(self, rows: Sequence[tuple[str, str, datetime]]) -> None:
        await self._write()
        for scope, number, at in rows:
            known = self._footers_sent.get((scope, number))
            self._footers_sent[(scope, number)] = as_utc(at) if known is None else max(known, as_utc(at))

    async def footers_since(
        self, since: datetime, limit: int = FOOTER_PAGE
    ) -> list[tuple[str, str, datetime]]:
        await self._read()
        rows = [(s, n, at) for (s, n), at in self._footers_sent.items() if at >= as_utc(since)]
        return sorted(rows, key=lambda row: row[2])[:limit]

    async def purge_footers(self, before: datetime) -> int:
        await self._write()
        old = [key for key, at in self._footers_sent.items() if at < as_utc(before)]
        for key in old:
            del self._footers_sent[key]
        return len(old)

    async def claim_confirmation(
        self, scope: str, number: str, kind: str, at: datetime, window: float
    ) -> bool:
        await self._write()
        key, at = (scope, number, kind), as_utc(at)
        last = self._confirmations_sent.get(key)
        if last is not None and last > at - timedelta(seconds=window):
            return False
        self._confirmations_sent[key] = at
        return True

    async def release_confirmation(self, scope: str, number: str, kind: str, at: datetime) -> None:
        await self._write()
        if self._confirmations_sent.get((scope, number, kind)) == as_utc(at):
            del self._confirmations_sent[(scope, number, kind)]

    async def purge_confirmations(self, before: datetime) -> int:
        await self._write()
        old = [key for key, at in self._confirmations_sent.items() if at < as_utc(before)]
        for key in old:
            del self._confirmations_sent[key]
        return len(old)
