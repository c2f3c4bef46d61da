"""Messages coming down (deliver_sm / data_sm from the SMSC): receipts, and keywords in MO text.

Receipts pass (ids mapped back where Stopgate issued them: :mod:`gateway.optout.receipts`). MO text is
classified against the account's keywords; a long MO is reassembled first, or decided on its first
part when that alone carries the keyword. STOP / START are committed to the store *before* the answer
goes back to the SMSC (a failed commit answers ESME_RX_T_APPN so the SMSC redelivers), the index is
updated at once, and one confirmation is sent (:mod:`gateway.optout.confirm`).

The account whose keywords, scope and confirmation apply is the one the address texted belongs to
(:class:`~gateway.policy.mo_routes.MoRouter`: account ``numbers`` and ``[[mo_route]]``), else
``[mo] default_account``, else the account of the session the MO arrived on (as before routing). A
routed MO is forwarded to that account's receivers (``Forward.account``), whichever bind it came on.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any

from gateway.config import AccountConfig
from gateway.metrics import Metrics
from gateway.numbers import mask_number
from gateway.policy.decisions import Decision, Defer, Forward, Respond, SessionInfo
from gateway.policy.keywords import STOP_ALL, Intent, Match, classify_mo
from gateway.policy.messages import is_receipt, read_text
from gateway.policy.mo_routes import MoRouter
from gateway.policy.reassembly import Reassembler
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import DataSm, DeliverSm, Pdu, make_response
from gateway.store.feed import ChangeFollower
from gateway.store.index import SuppressionIndex
from gateway.store.model import Channel, Consent, EventType, StoreError, utcnow

from .accounts import AccountPolicy, account_for
from .audit import Audit, account_event
from .bounded import BoundedMap
from .changes import OptoutChanges
from .confirm import Confirmations
from .receipt_routes import ReceiptRoutes
from .receipts import ReceiptIds


class MoPolicy:
    """Decides on each deliver_sm / data_sm; keyword work that needs the store is deferred."""

    def __init__(
        self,
        *,
        accounts: Mapping[str, AccountPolicy],
        default_country: str,
        reassembler: Reassembler,
        index: SuppressionIndex,
        feed: ChangeFollower,
        changes: OptoutChanges,
        receipts: ReceiptIds,
        confirmations: Confirmations,
        audit: Audit,
        metrics: Metrics,
        log: Any,
        clock: Callable[[], float],
        arm: Callable[[float], None],
    ) -> None:
        self.accounts = accounts
        self.default_country = default_country
        self.reassembler = reassembler
        self.index = index
        self.feed = feed
        self.changes = changes
        self.receipts = receipts
        self.confirmations = confirmations
        self.audit = audit
        self.metrics = metrics
        self.log = log
        self.clock = clock
        self.arm = arm
        #: Long MOs whose first part carried a keyword: decided then, not again when complete.
        self._first_part_matched: BoundedMap = BoundedMap(10_000)
        #: The account an MO belongs to by the address texted (set from the config by the engine).
        self.router = MoRouter(())
        #: Where MOs no route matches go; None: the account of the session they arrived on.
        self.default_account: str | None = None
        #: Where receipts go when accounts share an upstream (set by the engine).
        self.receipt_routes: ReceiptRoutes | None = None

    def route(self, pdu: DeliverSm | DataSm, text: str | None) -> str | None:
        """The ``system_id`` an MO is routed to by its address (or the default account); None if
        it stays with the session it arrived on."""
        if self.router:
            routed = self.router.route(pdu.destination_addr, text)
            if routed is not None and routed in self.accounts:
                return routed
        default = self.default_account
        return default if default is not None and default in self.accounts else None

    def on_deliver(self, session: SessionInfo[AccountConfig], pdu: Pdu) -> Decision:
        assert isinstance(pdu, (DeliverSm, DataSm))
        if is_receipt(pdu):
            decision = self.receipts.on_receipt(pdu, session)
            if self.receipt_routes is not None:
                return self.receipt_routes.route(session, pdu, decision)
            return decision
        message = read_text(pdu)
        if message is None:
            return Forward(pdu, account=self.route(pdu, None))
        text = message.text
        routed = self.route(pdu, text)
        if routed is not None:
            account = self.accounts[routed]
        else:
            account = account_for(self.accounts, session.account, self.default_country)
        concat = message.concat
        if concat is not None and concat.total > 1:
            key = (pdu.source_addr, concat.reference)
            full = self._reassemble(key, concat.total, concat.seq, text)
            if concat.seq == 1:
                match = classify_mo(text, account.keywords)
                if match is not None:
                    self._first_part_matched[key] = True
            elif full is not None and self._first_part_matched.pop(key, None) is None:
                match = classify_mo(full, account.keywords)
                text = full
            else:
                match = None
        else:
            match = classify_mo(text, account.keywords)
        if match is None:
            return Forward(pdu, account=routed)
        # The MO's arrival: it is decoded and classified as it comes off the socket, so this is the
        # start of the time to honour it (the events record it as received_at; ts is the commit's).
        received = utcnow()
        return Defer(lambda: self._keyword(session, account, pdu, match, text, routed, received))

    def _reassemble(self, key: tuple[str, int], total: int, seq: int, text: str) -> str | None:
        reassembler = self.reassembler
        full = reassembler.add(key, total, seq, text, self.clock())
        self.report_evicted()
        deadline = reassembler.next_deadline()
        if deadline is not None:
            self.arm(deadline)
        return full

    def report_evicted(self) -> None:
        """Log and count the long MOs the reassembler had to drop before they were complete."""
        for evicted in self.reassembler.take_evicted():
            # Parts of a message that can no longer complete: a keyword in a later part is lost.
            self.metrics.mo_evicted.inc()
            self.log.warning(
                "incomplete long MO dropped to make room (or its reference was reused)",
                number=mask_number(evicted.key[0]),
                parts=evicted.received,
                total=evicted.total,
            )

    async def _keyword(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        pdu: DeliverSm | DataSm,
        match: Match,
        text: str,
        routed: str | None,
        received: datetime,
    ) -> Forward | Respond:
        number = account.normalize(pdu.source_addr, pdu.source_addr_ton)
        log = self.log.bind(account=account.config.system_id, scope=account.scope, keyword=match.keyword)
        if number is None:
            log.info("keyword from a sender that is not a phone number; nothing recorded")
            return Forward(pdu, account=routed)
        scope = account.scope
        config = account.config
        confirm = self.confirmations.confirm
        # The reply in the language of the keyword the subscriber used.
        replies = config.replies_in(match.language)
        if match.intent is Intent.HELP:
            address = pdu.destination_addr or None
            self.audit.queue(
                account_event(
                    EventType.HELP, number, account, match, text, address=address, received_at=received
                )
            )
            self.metrics.help_requests.labels(scope).inc()
            await confirm(session, account, pdu, number, "help", replies.help)
        elif match.intent is Intent.OPT_OUT:
            for each_scope in self._opt_out_scopes(account, match):
                if not await self._commit(
                    EventType.OPT_OUT, number, account, match, text, log, pdu, received, each_scope
                ):
                    # The subscriber said STOP: block from memory meanwhile, whatever the store says.
                    await self.feed.hold_unrecorded(each_scope, number)
                    return Respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN))
            await confirm(session, account, pdu, number, "opt_out", replies.confirmation)
        else:
            if match.conditional and not self.index.contains_e164(scope, number):
                return Forward(pdu, account=routed)  # "YES" from a subscribed number is just a message
            if not await self._commit(EventType.OPT_IN, number, account, match, text, log, pdu, received):
                return Respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN))
            await self._record_consent(number, account, match, text, log)
            await confirm(session, account, pdu, number, "opt_in", replies.resubscribe_confirmation)
        if config.optout.forward_keywords:
            return Forward(pdu, account=routed)
        return Respond(make_response(pdu, CommandStatus.ESME_ROK))

    async def _record_consent(
        self, number: str, account: AccountPolicy, match: Match, text: str, log: Any
    ) -> None:
        """A keyword opt-in (START, or a JOIN-style keyword) is consent: keep it with the MO text.

        The opt-in itself is already committed; a failure here is logged, not answered as one.
        """
        consent = Consent(
            scope=account.scope,
            number=number,
            source="keyword",
            wording=text,
            evidence={"keyword": match.keyword},
            account=account.config.system_id,
        )
        try:
            await self.changes.store.add_consent(consent, channel=Channel.SMS)
        except StoreError as exc:
            log.error("consent of a keyword opt-in NOT recorded", number=number, error=str(exc))

    async def _last_campaign(self, scope: str, number: str) -> str | None:
        """The campaign last sent to ``number`` in ``scope``: still queued in memory, else stored."""
        pending = self.audit.campaigns.get((scope, number))
        campaign = pending[0] if pending is not None else await self.audit.store.last_campaign(scope, number)
        return campaign or None

    def _opt_out_scopes(self, account: AccountPolicy, match: Match) -> list[str]:
        """The scopes a STOP opts out of: the account's own; STOPALL every scope this Stopgate serves
        (the account's first, so that its own list is committed before any other)."""
        if match.keyword != STOP_ALL:
            return [account.scope]
        others = sorted({policy.scope for policy in self.accounts.values()} - {account.scope})
        return [account.scope, *others]

    async def _commit(
        self,
        kind: EventType,
        number: str,
        account: AccountPolicy,
        match: Match,
        text: str,
        log: Any,
        pdu: DeliverSm | DataSm,
        received: datetime,
        scope: str | None = None,
    ) -> bool:
        """Record an opt-out or opt-in durably, index updated; False if the store failed.

        The event names the address the subscriber texted, when the MO arrived and, for an opt-out,
        the campaign last sent to the number in that scope (what the report credits)."""
        scope = scope or account.scope
        campaign = None
        try:
            if kind is EventType.OPT_OUT:
                campaign = await self._last_campaign(scope, number)
        except StoreError:
            campaign = None  # attribution is secondary: never fail a STOP for it
        event = account_event(
            kind,
            number,
            account,
            match,
            text,
            address=pdu.destination_addr or None,
            campaign=campaign,
            received_at=received,
        )
        if scope != event.scope:
            event = replace(event, scope=scope)
        try:
            if kind is EventType.OPT_OUT:
                await self.changes.opt_out(event)
            else:
                await self.changes.opt_in(event)
        except StoreError as exc:
            log.error(f"{kind} NOT recorded; asking the SMSC to redeliver", number=number, error=str(exc))
            return False
        # The logging processor masks numbers and hides texts as configured (gateway/ops/logs.py).
        log.info("opted out" if kind is EventType.OPT_OUT else "opted in", number=number, text=text)
        return True
