"""Messages going up (submit_sm / submit_multi / data_sm from the ESME): suppression and the footer.

Marketing (and, if the account says so, transactional) traffic to a suppressed number is refused, or
accepted and failed by a receipt (``block_mode = "accept_and_fail"``). Marketing that passes is counted
per campaign and gets the opt-out footer: spliced into the frame's octets where it fits, else the
message is re-cut into parts relayed one by one (the ESME gets one answer); a message the ESME split
itself is held until complete (:mod:`gateway.optout.held`).

:meth:`MtPolicy.on_submit` runs for every message a proxy relays: every line of its common path is
measured (``python -m tools.bench_core --bytecodes``).
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

from gateway.config import AccountConfig
from gateway.metrics import Metrics
from gateway.policy.decisions import Decision, Defer, Forward, ForwardParts, Respond, SessionInfo
from gateway.policy.messages import footer_frame, footer_parts, footer_split_parts, read_text
from gateway.smpp.constants import CommandStatus, EsmClass, MessageState, Tag
from gateway.smpp.fields import Tlv, UnsuccessSme
from gateway.smpp.pdu import DataSm, DeliverSm, Pdu, SubmitMulti, SubmitMultiResp, SubmitSm, make_response
from gateway.store.consent_index import ConsentIndex
from gateway.store.index import SuppressionIndex
from gateway.store.model import Channel, Event, EventType

from .accounts import OPTOUT_URL, AccountPolicy, account_for
from .audit import Audit, campaign_of
from .footers import FooterMemory
from .held import HeldMessages
from .ids import ConcatReferences, new_message_id
from .multi import LinkedMulti, with_footer
from .receipts import ReceiptIds

#: The audit reason of a marketing message refused by ``require_consent`` (issue 16).
NO_CONSENT: Final = "no_consent"
_UDHI: Final = EsmClass.UDHI
_SAR: Final = frozenset({Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM})
#: Module globals for the refusal path (an enum member read off its class costs ~70 ns on Python 3.11).
_BLOCKED: Final = EventType.BLOCKED
_SMS: Final = Channel.SMS


def _maybe_a_part(sm: SubmitSm | DataSm) -> bool:
    """A UDH or SAR TLVs: perhaps one part of a message the ESME split."""
    return bool(sm.esm_class & _UDHI or (sm.tlvs and any(tag in _SAR for tag, _ in sm.tlvs)))


def _extensible(pdu: SubmitMulti) -> bool:
    """Text a footer can be appended to (not binary, not one part of several, no other UDH)."""
    message = read_text(pdu)
    return message is not None and message.concat is None and not message.udh


class MtPolicy:
    """Decides on each submit_sm / submit_multi / data_sm."""

    def __init__(
        self,
        *,
        accounts: Mapping[str, AccountPolicy],
        default_country: str,
        index: SuppressionIndex,
        audit: Audit,
        held: HeldMessages,
        receipts: ReceiptIds,
        references: ConcatReferences,
        metrics: Metrics,
        log: Any,
        clock: Callable[[], float],
        spawn: Callable[..., None],
        footers: FooterMemory,
    ) -> None:
        self.accounts = accounts
        self.default_country = default_country
        self.index = index
        self.audit = audit
        self.held = held
        self.receipts = receipts
        self.references = references
        self.log = log
        self.clock = clock
        self.spawn = spawn
        # Metrics the common path counts in, looked up once. (Not bound methods: a method kept as an
        # instance attribute is a call the interpreter does not specialise.)
        self.footers = metrics.footers
        self.splits = metrics.splits
        self.blocked = metrics.blocked
        self.blocked_no_consent = metrics.blocked_no_consent
        #: Live consents, for ``require_consent`` accounts (set by the app; empty: nobody consented).
        self.consents: ConsentIndex = ConsentIndex()
        #: Issues a web opt-out link for (scope, number, account, campaign): the footer's
        #: ``{optout_url}`` (set by the app when ``[web] public_url`` is configured).
        self.links: Callable[[str, str, str | None, str | None], str] | None = None
        self.multi = LinkedMulti(receipts, log)
        self.blind_refusals = metrics.blind_refusals
        #: True while the change feed is behind by more than ``optout.max_feed_lag`` (set by the
        #: app's watch on the feed): an opt-out made elsewhere may be unseen, so marketing is refused
        #: with a temporary error, and the ESME retries it later. Transactional traffic goes on.
        self.blind = False
        #: When each (scope, number) last got the footer (``footer_mode = "first_in_days"``).
        self.footer_memory = footers

    def on_submit(self, session: SessionInfo[AccountConfig], pdu: Pdu) -> Decision:
        account = self.accounts.get(session.account.system_id) or account_for(
            self.accounts, session.account, self.default_country
        )  # (hot path)
        if not account.checks_suppression:
            return Forward(pdu)
        pdu_type = type(pdu)
        if pdu_type is SubmitMulti:
            return self._submit_multi(session, account, pdu)  # type: ignore[arg-type]
        sm: SubmitSm | DataSm = pdu  # type: ignore[assignment]  # the other two submits (no assert: hot path)
        # The suppression check (as in _submit_multi): the account's normaliser, then the index.
        number = account.normalize(sm.destination_addr, sm.dest_addr_ton)
        scope = account.scope
        if number is not None and self.index.contains_e164(scope, number):
            return self._block(session, account, sm, number)
        if not account.marketing:
            return Forward(sm)
        if self.blind:
            return self._blind(sm)
        if account.config.require_consent and (number is None or (scope, number) not in self.consents):
            return self._block(session, account, sm, number or sm.destination_addr, NO_CONSENT)
        if number is not None:
            self.audit.count_sent(account, sm, number)
        footer = account.config.footer
        if account.footer_url and not _maybe_a_part(sm):  # a part: linked below, once per message
            footer = self._link_footer(account, sm, number, footer)
        if account.footer_on_octets and pdu_type is SubmitSm:
            config = account.config
            frame = footer_frame(sm, footer)  # type: ignore[arg-type]
            if frame is sm.raw:
                return Forward(sm)
            if frame is not None:
                self.footers[config.system_id] += 1
                return Forward(sm, None, frame)  # (pdu, on_response, frame): a keyword costs ~90 ns
            split = footer_split_parts(sm, footer, self.references.next())  # type: ignore[arg-type]
            if split is not None:
                return self._forward_parts(sm, split, config.system_id)
        message = read_text(sm)
        if message is None:
            return Forward(sm)
        if message.concat is not None and isinstance(sm, SubmitSm):
            link = None
            if account.footer_url:
                link = functools.partial(self._link_footer, account, sm, number, footer)
            return self.held.hold(session, account, sm, message, number or sm.destination_addr, footer, link)
        if (
            account.config.footer_mode == "first_in_days"
            and number is not None
            and not self.footer_memory.due(scope, number, account.config.footer_days)
        ):
            return Forward(sm)
        if account.footer_url and footer is account.config.footer:  # not linked above
            footer = self._link_footer(account, sm, number, footer)
        parts = footer_parts(
            sm,
            footer,
            use_payload=account.config.long_messages == "payload",
            reference=self.references.next(),
            message=message,
        )
        if parts is None:
            return Forward(sm)
        if len(parts) == 1:
            self.footers[account.config.system_id] += 1
            return Forward(parts[0])
        return self._forward_parts(sm, parts, account.config.system_id)

    def _link_footer(
        self, account: AccountPolicy, sm: SubmitSm | DataSm, number: str | None, footer: str
    ) -> str:
        """The footer with ``{optout_url}`` replaced by a new link for this recipient (issue 16).

        Segment counting and splitting then work on the expanded text. Without a number to link
        (an address that is not a phone number) or a link issuer, the placeholder is dropped.
        """
        links = self.links
        if links is None or number is None:
            return footer.replace(OPTOUT_URL, "").strip()
        link = links(account.scope, number, account.config.system_id, campaign_of(account, sm) or None)
        return footer.replace(OPTOUT_URL, link)

    def _forward_parts(self, sm: Pdu, parts: Sequence[Pdu], system_id: str) -> ForwardParts:
        """Relay a message the footer split, part by part; the ESME gets one answer."""
        self.footers[system_id] += 1
        self.splits[system_id] += 1
        return ForwardParts(parts, functools.partial(self._parts_answer, sm), self.receipts.extra_segment)

    def _parts_answer(self, original: Pdu, responses: list[Pdu]) -> Pdu:
        """The ESME's one response to a message sent in parts: the first part's id, or the refusal."""
        last = responses[-1]
        if last.command_status != CommandStatus.ESME_ROK:
            if len(responses) > 1:
                accepted = len(responses) - 1
                self.log.warning("segment refused after earlier segments were accepted", sent=accepted)
            return make_response(original, last.command_status)
        first_id = getattr(responses[0], "message_id", "")
        return make_response(original, CommandStatus.ESME_ROK, message_id=first_id)

    # --- refusals ---------------------------------------------------------------------------------

    def _blind(self, pdu: SubmitSm | DataSm | SubmitMulti) -> Respond:
        """Marketing while this process cannot tell whether the number opted out elsewhere."""
        self.blind_refusals.inc()
        return Respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN))

    def _refused(
        self,
        account: AccountPolicy,
        pdu: SubmitSm | DataSm | SubmitMulti,
        number: str,
        reason: str | None = None,
    ) -> None:
        """Count and audit one message (or submit_multi destination) refused to a suppressed number
        (or, with ``reason`` :data:`NO_CONSENT`, to one without live consent)."""
        scope = account.scope
        if reason is NO_CONSENT:
            self.blocked_no_consent[scope] += 1
        else:
            self.blocked[scope] += 1
        self.audit.queue(
            Event(
                type=_BLOCKED,
                number=number,
                scope=scope,
                channel=_SMS,
                account=account.config.system_id,
                campaign=campaign_of(account, pdu) or None,
                reason=reason,
            )
        )

    def _block(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        pdu: SubmitSm | DataSm,
        number: str,
        reason: str | None = None,
    ) -> Respond:
        self._refused(account, pdu, number, reason)
        optout = account.config.optout
        if optout.block_mode == "accept_and_fail":
            message_id = new_message_id(account.message_ids)
            self.spawn(self._rejected_receipt, session, pdu, message_id)
            return Respond(make_response(pdu, CommandStatus.ESME_ROK, message_id=message_id))
        return Respond(make_response(pdu, optout.block_status))

    async def _rejected_receipt(
        self, session: SessionInfo[Any], pdu: SubmitSm | DataSm, message_id: str
    ) -> None:
        """For "accept and fail": a receipt saying the message was rejected, as SMSCs send them."""
        stamp = time.strftime("%y%m%d%H%M", time.gmtime())  # wall clock: the receipt's dates
        text = (
            f"id:{message_id} sub:001 dlvrd:000 submit date:{stamp} done date:{stamp} "
            "stat:REJECTD err:000 text:"
        ).encode("ascii")
        receipt = DeliverSm(
            source_addr_ton=pdu.dest_addr_ton,
            source_addr_npi=pdu.dest_addr_npi,
            source_addr=pdu.destination_addr,
            dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi,
            destination_addr=pdu.source_addr,
            esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
            short_message=text,
            tlvs=(
                Tlv(Tag.RECEIPTED_MESSAGE_ID, message_id.encode("ascii") + b"\x00"),
                Tlv(Tag.MESSAGE_STATE, bytes((MessageState.REJECTED,))),
            ),
        )
        try:
            await session.send_to_esme(receipt)
        except Exception as exc:
            self.log.info("rejection receipt not delivered", error=str(exc))

    # --- submit_multi -----------------------------------------------------------------------------

    def _submit_multi(self, session: SessionInfo[Any], account: AccountPolicy, pdu: SubmitMulti) -> Decision:
        if self.blind and account.marketing:
            return self._blind(pdu)
        refused: list[UnsuccessSme] = []
        allowed = []
        status = account.config.optout.block_status
        for dest in pdu.dests:
            if dest.dest_flag == 1:
                # The suppression check (as in on_submit): the account's normaliser, then the index.
                number = account.normalize(dest.address, dest.ton)
                if number is not None and self.index.contains_e164(account.scope, number):
                    refused.append(UnsuccessSme(dest.ton, dest.npi, dest.address, status))
                    self._refused(account, pdu, number)
                    continue
                if (
                    account.marketing
                    and account.config.require_consent
                    and (number is None or (account.scope, number) not in self.consents)
                ):
                    refused.append(UnsuccessSme(dest.ton, dest.npi, dest.address, status))
                    self._refused(account, pdu, number or dest.address, NO_CONSENT)
                    continue
                if number is not None and account.marketing:
                    self.audit.count_sent(account, pdu, number)
            allowed.append(dest)
        if not allowed:
            return Respond(
                SubmitMultiResp(
                    sequence_number=pdu.sequence_number,
                    message_id=new_message_id(account.message_ids),
                    unsuccess_smes=tuple(refused),
                )
            )
        out: SubmitMulti = pdu if not refused else replace(pdu, dests=tuple(allowed))
        if account.marketing:
            links = self.links
            if account.footer_url and links is not None and _extensible(out):
                # A link per recipient: one submit_sm each, answered as one submit_multi_resp.
                self.footers[account.config.system_id] += 1
                return Defer(functools.partial(self.multi.send, session, account, out, tuple(refused), links))
            # submit_multi carries one message to many: a footer that outgrows one segment goes in
            # message_payload rather than being split across many parts to many destinations.
            footer = account.config.footer.replace(OPTOUT_URL, "").strip()
            footered = with_footer(out, footer)
            if footered is not out:
                self.footers[account.config.system_id] += 1
                out = footered  # type: ignore[assignment]
        if not refused:
            return Forward(out)
        extra = tuple(refused)

        def merge(resp: Pdu) -> Pdu:
            if isinstance(resp, SubmitMultiResp):
                return replace(resp, unsuccess_smes=resp.unsuccess_smes + extra)
            return resp

        return Forward(out, merge)
