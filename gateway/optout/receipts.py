"""Delivery receipts for messages Stopgate re-cut: the ESME sees the message ids it was given.

A message Stopgate held and re-sent (:mod:`gateway.optout.held`) was answered with an id of Stopgate's
own, and a message the footer split went up as several, of which the ESME knows the first's id. The
SMSC's receipts name the SMSC's ids: the first kind is mapped back to Stopgate's id, receipts for the
extra segments are answered here and never reach the ESME. So are receipts for Stopgate's own
confirmations (an SMSC that sends receipts unrequested sends them too): the ESME never sent those.
"""

from __future__ import annotations

from typing import Any

from gateway.policy.decisions import Decision, Defer, Forward, Respond, SessionInfo
from gateway.policy.messages import receipt_message_id, rewrite_receipt_id
from gateway.smpp.constants import CommandStatus, MessageState, Tag
from gateway.smpp.fields import find_tlv
from gateway.smpp.pdu import DataSm, DeliverSm, Pdu, make_response

from .bounded import BoundedMap

MAX_REMEMBERED_IDS = 200_000


class ReceiptIds:
    """SMSC message ids Stopgate must translate or hide in receipts (the newest ones, bounded)."""

    def __init__(self, limit: int = MAX_REMEMBERED_IDS) -> None:
        #: SMSC message id → the id Stopgate gave the ESME (held and re-cut messages).
        self.ours: BoundedMap = BoundedMap(limit)
        #: SMSC message ids of extra segments whose receipts the ESME must not see.
        self.hidden: BoundedMap = BoundedMap(limit)

    def on_receipt(self, pdu: DeliverSm | DataSm, session: SessionInfo[Any] | None = None) -> Decision:
        if not self.ours and not self.hidden:
            return Forward(pdu)
        message_id = receipt_message_id(pdu)
        if message_id is None:
            return Forward(pdu)
        if message_id in self.hidden:
            # A segment Stopgate added: the ESME knows one id per message it sent.
            return Respond(make_response(pdu, CommandStatus.ESME_ROK))
        ours = self.ours.get(message_id)
        if ours is None:
            return Forward(pdu)
        if isinstance(ours, str):
            return Forward(rewrite_receipt_id(pdu, ours))
        # One upstream part carried several client parts: each id gets the receipt it asked for.
        delivered = _delivered(pdu)
        copies = [rewrite_receipt_id(pdu, i) for i, mask in ours if mask == 1 or (mask and not delivered)]
        if not copies:
            return Respond(make_response(pdu, CommandStatus.ESME_ROK))
        if len(copies) == 1 or session is None:
            return Forward(copies[0])

        async def fan_out() -> Forward:
            for copy in copies[1:]:
                await session.send_to_esme(copy)
            return Forward(copies[0])

        return Defer(fan_out)

    def record(self, smsc_id: str, ours: str | None) -> None:
        """The SMSC accepted a part as ``smsc_id``: its receipts carry ``ours``, or are hidden if None."""
        if ours is None:
            self.hidden[smsc_id] = True
        else:
            self.ours[smsc_id] = ours

    def record_for(self, smsc_id: str, wanted: tuple[tuple[str, int], ...]) -> None:
        """The SMSC accepted a part as ``smsc_id`` that carries the client ids in ``wanted``, each with
        the SMSC-receipt bits its part asked for (1 any outcome, 2 failure only, 0 none)."""
        asking = tuple((ours, mask) for ours, mask in wanted if mask)
        if not asking:
            self.hidden[smsc_id] = True
        elif len(asking) == 1 and len(wanted) == 1:
            self.ours[smsc_id] = asking[0][0]  # the SMSC sends only what this one part asked for
        else:
            self.ours[smsc_id] = asking

    def own_message(self, resp: Pdu) -> None:
        """A message Stopgate itself sent (a confirmation) was accepted: its receipts are not the
        ESME's to see. Recorded as the response is read, before any receipt."""
        if resp.command_status == CommandStatus.ESME_ROK:
            self.hidden[getattr(resp, "message_id", "")] = True

    def extra_segment(self, index: int, resp: Pdu) -> None:
        """A split message's parts after the first: their receipts are not the ESME's to see (it got
        one message id, the first part's). Recorded as the response is read, before any receipt."""
        if index and resp.command_status == CommandStatus.ESME_ROK:
            self.hidden[getattr(resp, "message_id", "")] = True


_DELIVERED_TEXT = b"stat:DELIVRD"


def _delivered(pdu: DeliverSm | DataSm) -> bool:
    """The receipt reports a delivered message (message_state TLV, else the text's ``stat:``)."""
    state = find_tlv(pdu.tlvs, Tag.MESSAGE_STATE)
    if state:
        return state[0] == MessageState.DELIVERED
    return isinstance(pdu, DeliverSm) and _DELIVERED_TEXT in pdu.short_message
