"""Receipts back to the account that sent the message (issue 14), whichever bind they arrive on.

When several accounts share one upstream account, the SMSC delivers a receipt to any receiver bind of
that system_id. Each message id the SMSC gives an accepted submit of such an account is remembered
with the account and the session that sent it: in memory (bounded) and in the store with a TTL
(``[mo] receipt_ttl``, 72 h by default), so that a receipt that arrives later, on another bind or
after a restart, goes to that session while it is bound, else to another receiver of the account
(:class:`~gateway.policy.decisions.Forward` ``account`` / ``session``), with the id it was given.

Accounts with an upstream of their own are not tracked: any receiver of that upstream account is
theirs, and their submit responses keep relaying undecoded.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from gateway.config import AccountConfig
from gateway.policy.decisions import Decision, Defer, Forward, ForwardParts, SessionInfo
from gateway.policy.messages import receipt_message_id
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import DataSm, DeliverSm, Pdu
from gateway.store.base import Store
from gateway.store.model import StoreError, utcnow

from .bounded import BoundedMap
from .write_behind import WriteBehind

MAX_REMEMBERED = 200_000
PURGE_EVERY = timedelta(hours=1)

Submit = Callable[[SessionInfo[AccountConfig], Pdu], Decision]


def shared_upstream_accounts(accounts: Mapping[str, AccountConfig]) -> frozenset[str]:
    """The accounts whose upstream another account uses too: their receipts need routing."""
    users: dict[str, int] = {}
    for account in accounts.values():
        users[account.upstream] = users.get(account.upstream, 0) + 1
    return frozenset(a.system_id for a in accounts.values() if users[a.upstream] > 1)


class ReceiptRoutes:
    """Remembers who sent each message id; routes its receipts back there."""

    def __init__(self, store: Store, log: Any, spawn: Callable[..., None], ttl: float) -> None:
        self.store = store
        self.log = log
        self.ttl = timedelta(seconds=ttl)
        #: system_ids whose message ids are remembered (set from the config by the engine).
        self.tracked: frozenset[str] = frozenset()
        self.accounts: Mapping[str, AccountConfig] = {}
        self.memory: BoundedMap = BoundedMap(MAX_REMEMBERED)
        self.batch: WriteBehind[tuple[str, str, str, str]] = WriteBehind(
            self._write,
            spawn,
            log,
            limit=MAX_REMEMBERED,
            failed="receipt routes not stored; kept in memory only",
        )
        self._purged = datetime.min.replace(tzinfo=utcnow().tzinfo)

    # --- up: remember the ids of accepted submits -------------------------------------------------

    def tracking(self, on_submit: Submit) -> Submit:
        """``on_submit`` whose decisions, for tracked accounts, remember the ids the SMSC gives."""

        def tracked_submit(session: SessionInfo[AccountConfig], pdu: Pdu) -> Decision:
            decision = on_submit(session, pdu)
            account = session.account
            if account.system_id not in self.tracked:
                return decision
            return self._track(decision, (account.upstream, account.system_id, session.session_id))

        return tracked_submit

    def _track(self, decision: Decision, sender: tuple[str, str, str]) -> Decision:
        kind = type(decision)
        if kind is Forward:
            assert isinstance(decision, Forward)
            relay = decision.on_response

            def on_response(resp: Pdu) -> Pdu:
                self.record(sender, resp)
                return relay(resp) if relay is not None else resp

            return Forward(decision.pdu, on_response, decision.frame)
        if kind is ForwardParts:
            assert isinstance(decision, ForwardParts)
            parts = decision.on_response

            def on_part(index: int, resp: Pdu) -> object:
                self.record(sender, resp)
                return parts(index, resp) if parts is not None else None

            return dataclasses.replace(decision, on_response=on_part)
        if kind is Defer:
            assert isinstance(decision, Defer)
            work = decision.work

            async def tracked_work() -> Any:
                return self._track(await work(), sender)

            return Defer(tracked_work)
        return decision

    def record(self, sender: tuple[str, str, str], resp: Pdu) -> None:
        message_id = getattr(resp, "message_id", "")
        if resp.command_status != CommandStatus.ESME_ROK or not message_id:
            return
        upstream, account, session = sender
        self.memory[(upstream, message_id)] = (account, session)
        self.batch.add((upstream, message_id, account, session))

    async def flush(self) -> None:
        """Write the remembered ids to the store (kept in memory only if it fails), purge old ones."""
        await self.batch.flush()

    async def _write(self, pending: list[tuple[str, str, str, str]]) -> None:
        expires = utcnow() + self.ttl  # from the write: at most a batch's delay later than the submit
        await self.store.record_receipt_routes([(*row, expires) for row in pending])
        now = utcnow()
        if now - self._purged >= PURGE_EVERY:
            self._purged = now
            await self.store.purge_receipt_routes(now)

    # --- down: route a receipt ------------------------------------------------------------------

    def route(
        self, session: SessionInfo[AccountConfig], pdu: DeliverSm | DataSm, decision: Decision
    ) -> Decision:
        """``decision`` (a receipt's) sent to the account and session that sent the message."""
        if not self.tracked or type(decision) is not Forward or not getattr(session, "bound", True):
            return decision  # (a receipt may come down before the ESME's bind is answered)
        if session.account.system_id not in self.tracked:
            return decision
        assert isinstance(decision, Forward)
        message_id = receipt_message_id(pdu)
        if message_id is None:
            return decision
        upstream = session.account.upstream
        known = self.memory.get((upstream, message_id))
        if known is not None:
            return self._to(decision, known)
        return Defer(lambda: self._look_up(upstream, message_id, decision))

    async def _look_up(self, upstream: str, message_id: str, decision: Forward) -> Forward:
        try:
            known = await self.store.receipt_route(upstream, message_id, utcnow())
        except StoreError as exc:
            self.log.warning("receipt route not read; receipt stays on its bind", error=str(exc))
            return decision
        return decision if known is None else self._to(decision, known)

    def _to(self, decision: Forward, known: tuple[str, str]) -> Forward:
        account, session = known
        if account not in self.accounts:
            return decision  # an account a reload removed: the bind it arrived on, as before
        return dataclasses.replace(decision, account=account, session=session)
