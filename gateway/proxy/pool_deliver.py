"""Receipts and MOs arriving on a pool bind (pooled mode), where no ESME session owns the bind.

A receipt goes to the session that sent its message: found by (upstream, SMSC message id) in the ids
remembered as the submit responses passed, that session while it can receive, else another receiver
of its account (:meth:`Proxy.mo_receiver`); an id not remembered (a restart, an old message) is looked
up in the store's receipt routes when ``[mo] route_receipts`` is on; unknown: ESME_RX_T_APPN, so the
SMSC redelivers it later.

An MO's account is the one the address texted belongs to (account ``numbers``, ``[[mo_route]]``),
else ``[mo] default_account``, else the only account whose ``upstream`` is this one. The policy
(opt-out keywords, scope, confirmation) is that account's; confirmations and HELP replies leave
through the upstream the MO came from. An MO no account can be found for is answered (ESME_ROK) and
logged: with no account there is no scope to record anything in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.config import AccountConfig, Config
from gateway.numbers import mask_number
from gateway.policy.decisions import Decision, Defer, Forward, Respond
from gateway.policy.messages import is_receipt, read_text, receipt_message_id
from gateway.policy.mo_routes import MoRouter
from gateway.smpp.constants import BindMode, CommandStatus
from gateway.smpp.pdu import Pdu, make_response

from .link import Link, LinkClosed
from .mo_delivery import forward_across
from .pool import UpstreamPool

S = CommandStatus


class PoolSession:
    """What the policy sees of a pool bind for one message: the account the message belongs to."""

    bind_mode = BindMode.TRANSCEIVER
    bound = True

    def __init__(self, router: Any, pool: UpstreamPool, account: AccountConfig, prefer: str | None) -> None:
        self.router = router
        self.pool = pool
        self.account = account
        #: The ESME session a receipt's message came from, if known.
        self.prefer = prefer
        #: A receipt whose sender is not known here (the store may know).
        self.unowned = False
        self.session_id = f"pool:{pool.name}"

    async def transmit(self, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None) -> Pdu:
        """Through the upstream the message came from, else as the routes say."""
        if self.pool.link() is not None:
            resp: Pdu = await self.router.request(self.pool, pdu, on_response)
        else:
            resp = await self.router.transmit(self.account, pdu, on_response)
        return resp

    async def send_to_esme(self, pdu: Pdu) -> Pdu | None:
        target = self.router.proxy.mo_receiver(self.account.system_id, self.prefer)
        return None if target is None else await target.deliver_mo(pdu)


class PoolDeliveries:
    def __init__(self, router: Any) -> None:
        self.router = router
        self.log = router.log

    def adopt(self, config: Config) -> None:
        self.accounts = config.accounts
        self.mo_router = MoRouter(config.mo.routes)
        self.default_account = config.mo.default_account
        users: dict[str, list[str]] = {}
        for account in config.accounts.values():
            users.setdefault(account.upstream, []).append(account.system_id)
        self.users = users

    def on_deliver(self, pool: UpstreamPool, link: Link, pdu: Pdu) -> None:
        sequence = pdu.sequence_number
        prefer: str | None = None
        unowned = False
        if is_receipt(pdu):  # type: ignore[arg-type]
            message_id = receipt_message_id(pdu)  # type: ignore[arg-type]
            known = self.router.ids.get((pool.name, message_id), self.router.clock()) if message_id else None
            if known is not None:
                system_id, prefer = known
            else:  # the store may know it (route_receipts): asked through an account of this upstream
                unowned = True
                users = self.users.get(pool.name) or list(self.accounts)
                system_id = users[0] if users else ""
        else:
            system_id = self._mo_account(pool, pdu) or ""
            if not system_id:
                self.log.warning(
                    "MO for no account answered and dropped (no number, mo_route or default_account)",
                    upstream=pool.name,
                    to=pdu.destination_addr,  # type: ignore[attr-defined]
                    number=mask_number("+" + pdu.source_addr.lstrip("+")),  # type: ignore[attr-defined]
                )
                link.respond(make_response(pdu, S.ESME_ROK), sequence)
                return
        account = self.accounts.get(system_id)
        if account is None:
            link.respond(make_response(pdu, S.ESME_RX_T_APPN), sequence)
            return
        session = PoolSession(self.router, pool, account, prefer)
        session.unowned = unowned
        self._decide(session, link, pdu, sequence, self.router.proxy.policy.on_deliver(session, pdu))

    def _mo_account(self, pool: UpstreamPool, pdu: Any) -> str | None:
        if self.mo_router:
            message = read_text(pdu)
            routed = self.mo_router.route(pdu.destination_addr, message.text if message else None)
            if routed is not None and routed in self.accounts:
                return routed
        if self.default_account is not None and self.default_account in self.accounts:
            return self.default_account
        users = self.users.get(pool.name, [])
        return users[0] if len(users) == 1 else None

    def _decide(self, session: PoolSession, link: Link, pdu: Pdu, sequence: int, decision: Decision) -> None:
        kind = type(decision)
        proxy = self.router.proxy
        if kind is Forward:
            assert isinstance(decision, Forward)
            if decision.account is None and session.unowned:
                self.log.info(
                    "receipt for a message id not known here; SMSC to redeliver", upstream=session.pool.name
                )
                link.respond(make_response(pdu, S.ESME_RX_T_APPN), sequence)
                return
            system_id = decision.account or session.account.system_id
            target = proxy.mo_receiver(system_id, decision.session or session.prefer)
            if target is None:
                self.log.info("no receiver of the account bound; SMSC to redeliver", routed=system_id)
                link.respond(make_response(pdu, S.ESME_RX_T_APPN), sequence)
            else:
                proxy.task_group.start_soon(self._guarded, forward_across, target, decision, link, sequence)
        elif kind is Respond:
            assert isinstance(decision, Respond)
            link.respond(decision.pdu, sequence)
        elif kind is Defer:
            assert isinstance(decision, Defer)
            proxy.task_group.start_soon(self._guarded, self._deferred, session, link, pdu, sequence, decision)

    async def _deferred(
        self, session: PoolSession, link: Link, pdu: Pdu, sequence: int, decision: Defer
    ) -> None:
        try:
            outcome: Decision = await decision.work()
        except LinkClosed:
            outcome = Respond(make_response(pdu, S.ESME_RX_T_APPN))
        except Exception:
            self.log.exception("policy failed; answering with a temporary error")
            outcome = Respond(make_response(pdu, S.ESME_RX_T_APPN))
        if not link.closed:
            self._decide(session, link, pdu, sequence, outcome)

    async def _guarded(self, func: Any, *args: Any) -> None:
        """Run in the proxy's task group: a bug met delivering one message must not stop the proxy."""
        try:
            await func(*args)
        except Exception:
            self.log.error("delivery from a pool bind failed with an internal error", exc_info=True)
