"""Delivery receipts for messages Stopgate re-cut: the ESME sees the message ids it was given.

A message Stopgate held and re-sent (:mod:`gateway.optout.held`) was answered with an id of Stopgate's
own, and a message the footer split went up as several, of which the ESME knows the first's id. The
SMSC's receipts name the SMSC's ids: the first kind is mapped back to Stopgate's id, receipts for the
extra segments are answered here and never reach the ESME. So are receipts for Stopgate's own
confirmations (an SMSC that sends receipts unrequested sends them too): the ESME never sent those.
"""

from __future__ import annotations

from gateway.policy.decisions import Decision, Forward, Respond
from gateway.policy.messages import receipt_message_id, rewrite_receipt_id
from gateway.smpp.constants import CommandStatus
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

    def on_receipt(self, pdu: DeliverSm | DataSm) -> Decision:
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
        return Forward(rewrite_receipt_id(pdu, ours))

    def record(self, smsc_id: str, ours: str | None) -> None:
        """The SMSC accepted a part as ``smsc_id``: its receipts carry ``ours``, or are hidden if None."""
        if ours is None:
            self.hidden[smsc_id] = True
        else:
            self.ours[smsc_id] = ours

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
