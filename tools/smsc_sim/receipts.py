"""Delivery receipts: their text (SMPP 3.4 Appendix B), their deliver_sm, and the queue that sends
each one when it is due to a receive-capable session of the submitter, parking it while there is none."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import anyio

from gateway.smpp.constants import EsmClass, MessageState, Tag
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.fields import Tlv
from gateway.smpp.pdu import DeliverSm, SubmitMulti, message_text_bytes
from gateway.text.encoding import can_encode, decode_text, encode_text
from tools.smsc_sim.model import RoundRobin, Session, SubmitPdu, strip_udh
from tools.smsc_sim.timers import FifoTimer

__all__ = ["RECEIPT", "RECEIPT_WINDOW", "Receipt", "ReceiptQueue", "format_receipt", "receipt_pdu"]

#: How many deliver_sm (receipts) may await their response on one session before the sender waits.
RECEIPT_WINDOW: Final = 256
#: Marks our receipts' deliver_sm so their responses are counted, not handed to a waiter.
RECEIPT: Final = object()


@dataclass(slots=True)
class Receipt:
    system_id: str
    session_id: int
    message_id: str
    submitted: float
    #: (ton, npi, address) of the handset, the receipt's source.
    handset: tuple[int, int, str]
    #: (ton, npi, address) of the submitter, the receipt's destination.
    sender: tuple[int, int, str]
    text: str


def _smpp_date(wall: float) -> str:
    return time.strftime("%y%m%d%H%M", time.gmtime(wall))


def format_receipt(
    message_id: str,
    submitted: float,
    done: float,
    text: str,
    *,
    stat: str = "DELIVRD",
    err: int = 0,
) -> str:
    """The de-facto standard receipt text (SMPP 3.4 Appendix B), dates as YYMMDDhhmm in UTC."""
    return (
        f"id:{message_id} sub:001 dlvrd:001 submit date:{_smpp_date(submitted)}"
        f" done date:{_smpp_date(done)} stat:{stat} err:{err:03d} text:{text[:20]}"
    )


def receipt_pdu(receipt: Receipt) -> DeliverSm:
    """The receipt's deliver_sm: from the handset to the submitter, delivered now."""
    text = "".join(c if can_encode(c, 0) else "?" for c in receipt.text)
    body = format_receipt(receipt.message_id, receipt.submitted, time.time(), text)
    h_ton, h_npi, handset = receipt.handset
    s_ton, s_npi, sender = receipt.sender
    return DeliverSm(
        source_addr_ton=h_ton,
        source_addr_npi=h_npi,
        source_addr=handset,
        dest_addr_ton=s_ton,
        dest_addr_npi=s_npi,
        destination_addr=sender,
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        data_coding=0,
        short_message=encode_text(body, 0)[:254],
        tlvs=(
            Tlv(Tag.RECEIPTED_MESSAGE_ID, receipt.message_id.encode("latin-1") + b"\x00"),
            Tlv(Tag.MESSAGE_STATE, bytes((MessageState.DELIVERED,))),
        ),
    )


class ReceiptQueue:
    """Receipts waiting to be sent, in order, each once it is due; served by :meth:`run`.

    A receipt goes to the session that sent the message if it can receive, else to another
    receive-capable session of the same system_id; with none bound it is parked until one binds."""

    def __init__(self, sessions: Mapping[int, Session], counters: Counter[str], turns: RoundRobin) -> None:
        self.sessions = sessions
        self.counters = counters
        self.turns = turns
        self.timer = FifoTimer()
        self.parked: dict[str, list[Receipt]] = {}

    @property
    def pending(self) -> int:
        return len(self.timer.items)

    @property
    def parked_count(self) -> int:
        return sum(len(v) for v in self.parked.values())

    def queue(self, session: Session, pdu: SubmitPdu, message_id: str, delay: float) -> None:
        """One receipt per handset the message went to, due in ``delay`` seconds."""
        text = decode_text(strip_udh(pdu.esm_class, message_text_bytes(pdu)), pdu.data_coding)[:20]
        sender = (pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr)
        if isinstance(pdu, SubmitMulti):
            handsets = [(d.ton, d.npi, d.address) for d in pdu.dests if d.dest_flag == 1]
        else:
            handsets = [(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr)]
        due = anyio.current_time() + delay
        wall = time.time()
        for handset in handsets:
            receipt = Receipt(session.system_id, session.id, message_id, wall, handset, sender, text)
            self.timer.push(due, receipt)

    def release(self, system_id: str) -> None:
        """A receive-capable session of ``system_id`` bound: send its parked receipts now."""
        parked = self.parked.pop(system_id, None)
        if parked:
            now = anyio.current_time()
            for receipt in parked:
                self.timer.push(now, receipt)

    async def run(self) -> None:
        await self.timer.run(self._send)

    def _target(self, receipt: Receipt) -> Session | None:
        own = self.sessions.get(receipt.session_id)
        if own is not None and own.can_receive:
            return own
        candidates = [s for s in self.sessions.values() if s.system_id == receipt.system_id and s.can_receive]
        if not candidates:
            return None
        return self.turns.pick(candidates)

    def _send(self, receipt: Receipt) -> bool:
        target = self._target(receipt)
        if target is None:
            self.counters["receipts_parked"] += 1
            self.parked.setdefault(receipt.system_id, []).append(receipt)
            return True
        link = target.link
        if link.conn.outstanding >= RECEIPT_WINDOW or link.congested:
            return False
        try:
            link.send_nowait(receipt_pdu(receipt), RECEIPT)
        except LocalProtocolError:  # the session is unbinding: try again (another session, or park)
            return False
        self.counters["receipts_sent"] += 1
        return True
