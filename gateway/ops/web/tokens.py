"""Opt-out link tokens: 64 random bits in 11 URL-safe characters, mapped to (scope, number, ...).

A token says nothing about the number (it is not derived from it), so a forwarded or logged link
reveals nothing. :class:`TokenIssuer` hands tokens out synchronously (the submit path cannot wait
for a commit per message) and writes them to the store in batches; a link is served once its batch
is stored, within ``flush_interval``.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import anyio
import anyio.abc
import structlog

from gateway.store import Store, StoreError, WebToken
from gateway.store.model import utcnow

log = structlog.get_logger("stopgate.web")

#: Random bytes per token: 8 bytes = 64 bits, 11 characters of URL-safe base64.
TOKEN_BYTES = 8


def new_token() -> str:
    """An opaque token: 64 random bits, 11 characters ``[A-Za-z0-9_-]``."""
    return secrets.token_urlsafe(TOKEN_BYTES)


class TokenIssuer:
    """Issues tokens at once and stores them in batches (:meth:`run` flushes periodically)."""

    def __init__(self, store: Store, public_url: str, days: int, *, flush_interval: float = 0.2) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.lifetime = timedelta(days=days)
        self.flush_interval = flush_interval
        self._pending: list[WebToken] = []

    def issue(self, scope: str, number: str, account: str | None, campaign: str | None) -> str:
        """A new link for (scope, number); stored by the next :meth:`flush`."""
        token = new_token()
        self._pending.append(
            WebToken(
                token=token,
                scope=scope,
                number=number,
                account=account,
                campaign=campaign,
                expires=utcnow() + self.lifetime,
            )
        )
        return f"{self.public_url}/u/{token}"

    async def flush(self) -> int:
        """Store the tokens issued since the last flush; how many. A failure keeps them for later."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        try:
            await self.store.add_web_tokens(batch)
        except BaseException:
            self._pending[:0] = batch
            raise
        return len(batch)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            while True:
                await anyio.sleep(self.flush_interval)
                try:
                    await self.flush()
                except StoreError as exc:
                    log.error("storing opt-out link tokens failed; will retry", error=str(exc))
        finally:
            with anyio.CancelScope(shield=True):
                await self.flush()
