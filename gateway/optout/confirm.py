"""The one reply a subscriber gets to STOP, START or HELP, sent from the address it texted.

No reply goes to an address that cannot receive one (an alphanumeric sender), and a keyword repeated
within the account's ``confirmation_window`` gets none (two phones auto-replying to each other must not
loop). A reply the SMSC refused is forgotten, so that the subscriber's next keyword is answered. The
message ids the SMSC gave a reply are remembered (:class:`~.receipts.ReceiptIds`): a receipt for it,
which an SMSC may send unrequested, is answered here and never reaches the ESME.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gateway.metrics import Metrics
from gateway.numbers import is_replyable
from gateway.policy.decisions import SessionInfo
from gateway.policy.messages import text_parts
from gateway.smpp.constants import CommandStatus, DataCoding
from gateway.smpp.pdu import DataSm, DeliverSm, SubmitSm
from gateway.store.model import EventType
from gateway.text.gsm import is_gsm

from .accounts import AccountPolicy
from .audit import Audit, account_event
from .bounded import BoundedMap
from .ids import ConcatReferences
from .receipts import ReceiptIds

MAX_REMEMBERED = 100_000


class Confirmations:
    """Sends confirmations in tasks of their own, remembering when each (scope, number, kind) got one."""

    def __init__(
        self,
        *,
        audit: Audit,
        metrics: Metrics,
        log: Any,
        clock: Callable[[], float],
        spawn: Callable[..., None],
        references: ConcatReferences,
        receipts: ReceiptIds | None = None,
    ) -> None:
        self.audit = audit
        self.metrics = metrics
        self.log = log
        self.clock = clock
        self.spawn = spawn
        self.references = references
        #: Where the ids of sent confirmations go, so that their receipts never reach the ESME.
        self.receipts = receipts
        self._last: BoundedMap = BoundedMap(MAX_REMEMBERED)

    def confirm(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        mo: DeliverSm | DataSm,
        number: str,
        kind: str,
        text: str,
    ) -> None:
        """Send one reply to the subscriber, unless it would loop or has nowhere to go."""
        if not text:
            return
        if not is_replyable(mo.source_addr, mo.source_addr_ton) or not mo.destination_addr:
            self.log.info("no reply to an unreplyable sender", kind=kind)
            return
        now = self.clock()
        key = (account.scope, number, kind)
        last = self._last.get(key)
        if last is not None and now - last < account.config.optout.confirmation_window:
            self.log.info("repeated keyword within the confirmation window; no second reply", kind=kind)
            return
        self._last[key] = now
        self.spawn(self._send, session, account, mo, number, kind, text)

    async def _send(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        mo: DeliverSm | DataSm,
        number: str,
        kind: str,
        text: str,
    ) -> None:
        data_coding = DataCoding.SMSC_DEFAULT if is_gsm(text) else DataCoding.UCS2
        template = SubmitSm(
            source_addr_ton=mo.dest_addr_ton,
            source_addr_npi=mo.dest_addr_npi,
            source_addr=mo.destination_addr,
            dest_addr_ton=mo.source_addr_ton,
            dest_addr_npi=mo.source_addr_npi,
            destination_addr=mo.source_addr,
            data_coding=data_coding,
        )
        parts = text_parts(template, text, data_coding, use_payload=False, reference=self.references.next())
        ids = []
        on_response = self.receipts.own_message if self.receipts is not None else None
        try:
            for part in parts:
                resp = await session.transmit(part, on_response)
                if resp.command_status != CommandStatus.ESME_ROK:
                    raise RuntimeError(f"SMSC answered 0x{resp.command_status:08x}")
                ids.append(getattr(resp, "message_id", ""))
        except Exception as exc:
            self.log.warning("confirmation not sent", kind=kind, error=str(exc))
            self._last.pop((account.scope, number, kind), None)
            return
        self.metrics.confirmations.labels(account.scope, kind).inc()
        self.audit.queue(
            account_event(
                EventType.CONFIRMATION_SENT, number, account, text=text, message_ids=tuple(ids), reason=kind
            )
        )
