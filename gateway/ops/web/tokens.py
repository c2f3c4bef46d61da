"""Opt-out link tokens: 64 random bits in 11 letters and digits, mapped to (scope, number, ...).

Letters and digits only: they are the same octets in GSM 03.38, IA5 and Latin-1, so a footer with a
link stays on the fast octet path (``_`` and ``-`` of base64url are not: GSM puts ``_`` elsewhere).

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

#: Random bits per token; 62**11 > 2**64, so 11 base-62 characters hold them.
TOKEN_BITS = 64
TOKEN_LENGTH = 11
_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def new_token() -> str:
    """An opaque token: 64 random bits as 11 characters ``[0-9A-Za-z]``."""
    value = secrets.randbits(TOKEN_BITS)
    chars = []
    for _ in range(TOKEN_LENGTH):
        value, digit = divmod(value, 62)
        chars.append(_ALPHABET[digit])
    return "".join(chars)


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
