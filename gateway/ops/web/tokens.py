"""Opt-out link tokens: 72 random bits in 12 letters and digits, mapped to (scope, number, ...).

Letters and digits only: they are the same octets in GSM 03.38, IA5 and Latin-1, so a footer with a
link stays on the fast octet path (``_`` and ``-`` of base64url are not: GSM puts ``_`` elsewhere).

A token says nothing about the number (it is not derived from it), so a forwarded or logged link
reveals nothing. :class:`TokenIssuer` hands tokens out synchronously (the submit path cannot wait
for a commit per message) and writes them to the store in batches; a link is served once its batch
is stored, within ``flush_interval``.
"""

from __future__ import annotations

import base64
import os
from datetime import timedelta

import anyio
import anyio.abc
import structlog

from gateway.store import Store, StoreError, WebToken
from gateway.store.model import utcnow

log = structlog.get_logger("stopgate.web")

#: Random bytes per token: 9 (72 bits), exactly 12 characters of base64, no padding.
TOKEN_BYTES = 9
TOKEN_LENGTH = 12
#: base64's two symbols that are not letters or digits, swapped for two that are. This makes the
#: characters slightly uneven (from 6 bits each to about 5.95): 12 of them still carry over 71 bits.
_ALNUM = bytes.maketrans(b"+/", b"xZ")
#: Tokens drawn from the system's random source at once (one system call per this many links).
POOL_TOKENS = 1024


def new_tokens(count: int) -> str:
    """``count`` tokens, concatenated: ``TOKEN_LENGTH`` characters ``[0-9A-Za-z]`` each."""
    return base64.b64encode(os.urandom(TOKEN_BYTES * count)).translate(_ALNUM).decode()


def new_token() -> str:
    """One opaque token: 72 random bits as 12 characters ``[0-9A-Za-z]``."""
    return new_tokens(1)


class TokenIssuer:
    """Issues tokens at once and stores them in batches (:meth:`run` flushes periodically)."""

    def __init__(self, store: Store, public_url: str, days: int, *, flush_interval: float = 0.2) -> None:
        self.store = store
        self.public_url = public_url.rstrip("/")
        self.lifetime = timedelta(days=days)
        self.flush_interval = flush_interval
        #: (token, scope, number, account, campaign) issued and not yet stored.
        self._pending: list[tuple[str, str, str, str | None, str | None]] = []
        self._pool = ""
        self._at = 0

    def issue(self, scope: str, number: str, account: str | None, campaign: str | None) -> str:
        """A new link for (scope, number); stored by the next :meth:`flush`."""
        # The hot path: a tuple here, the store's rows (and one expiry for the batch) in flush().
        at = self._at
        if at >= len(self._pool):
            self._pool, at = new_tokens(POOL_TOKENS), 0
        self._at = at + TOKEN_LENGTH
        token = self._pool[at : at + TOKEN_LENGTH]
        self._pending.append((token, scope, number, account, campaign))
        return f"{self.public_url}/u/{token}"

    async def flush(self) -> int:
        """Store the tokens issued since the last flush; how many. A failure keeps them for later."""
        batch, self._pending = self._pending, []
        if not batch:
            return 0
        # One expiry for the batch: it was issued within the last flush interval.
        expires = utcnow() + self.lifetime
        rows = [
            WebToken(token=t, scope=s, number=n, account=a, campaign=c, expires=expires)
            for t, s, n, a, c in batch
        ]
        try:
            await self.store.add_web_tokens(rows)
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
