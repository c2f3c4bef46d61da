"""What keeps Stopgate from repeating itself across processes and restarts (issue 15): when each
number last got the opt-out footer (``footer_mode = "first_in_days"``), and the confirmation loop
guard (one reply per keyword within ``confirmation_window``), shared through the store.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

#: Rows :meth:`SentGuards.footers_since` returns at most by default.
FOOTER_PAGE = 50_000


class SentGuards(Protocol):
    """Footers and confirmations sent, by number, kept until purged."""

    @abc.abstractmethod
    async def record_footers(self, rows: Sequence[tuple[str, str, datetime]]) -> None:
        """Remember that (scope, number) got the footer at the time given (a later time wins)."""

    @abc.abstractmethod
    async def footers_since(
        self, since: datetime, limit: int = FOOTER_PAGE
    ) -> list[tuple[str, str, datetime]]:
        """(scope, number, sent_at) of the footers last sent at or after ``since``, oldest first."""

    @abc.abstractmethod
    async def purge_footers(self, before: datetime) -> int:
        """Forget the footers last sent before ``before``; how many."""

    @abc.abstractmethod
    async def claim_confirmation(
        self, scope: str, number: str, kind: str, at: datetime, window: float
    ) -> bool:
        """True, remembering ``at``, unless a reply of ``kind`` to (scope, number) was claimed less
        than ``window`` seconds before ``at``. Atomic: of two processes, one wins."""

    @abc.abstractmethod
    async def release_confirmation(self, scope: str, number: str, kind: str, at: datetime) -> None:
        """Forget the claim made at ``at`` (the reply was not sent), unless a later one replaced it."""

    @abc.abstractmethod
    async def purge_confirmations(self, before: datetime) -> int:
        """Forget the replies claimed before ``before``; how many."""
