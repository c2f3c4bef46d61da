"""Where a delivery receipt goes when several accounts share an upstream account (issue 14): the
account and session that sent each message, by (upstream, SMSC message id), kept with a TTL.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol


class ReceiptRoutes(Protocol):
    """Which account sent a message, by (upstream, SMSC message id): where its receipts go (issue 14)."""

    @abc.abstractmethod
    async def record_receipt_routes(self, rows: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        """Remember (upstream, message_id, account, session, expires_at); a later row replaces one
        with the same (upstream, message_id)."""

    @abc.abstractmethod
    async def receipt_route(self, upstream: str, message_id: str, now: datetime) -> tuple[str, str] | None:
        """(account, session) of ``message_id`` on ``upstream``, unless unknown or expired at ``now``."""

    @abc.abstractmethod
    async def purge_receipt_routes(self, now: datetime) -> int:
        """Forget the rows expired at ``now``; how many."""
