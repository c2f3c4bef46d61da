"""The one reply a subscriber gets to STOP, START or HELP, sent from the address it texted.

No reply goes to an address that cannot receive one (an alphanumeric sender), and a keyword repeated
within the account's ``confirmation_window`` gets none (two phones auto-replying to each other must not
loop). The window is kept in memory and, for the processes of a fleet and across restarts, in the
store: each reply is claimed there before it is sent, so that of two processes seeing the keyword one
answers (if the store cannot be asked, the reply goes, as memory allows: never none for want of a
database). A reply the SMSC refused is forgotten, so that the subscriber's next keyword is answered. The
message ids the SMSC gave a reply are remembered (:class:`~.receipts.ReceiptIds`): a receipt for it,
which an SMSC may send unrequested, is answered here and never reaches the ESME.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import anyio

from gateway.metrics import Metrics
from gateway.numbers import is_replyable
from gateway.policy.decisions import SessionInfo
from gateway.policy.messages import text_parts
from gateway.smpp.constants import CommandStatus, DataCoding
from gateway.smpp.pdu import DataSm, DeliverSm, SubmitSm
from gateway.store.guards import SentGuards
from gateway.store.model import EventType, StoreError, utcnow
from gateway.text.gsm import is_gsm

from .accounts import AccountPolicy
from .audit import Audit, account_event
from .bounded import BoundedMap
from .ids import ConcatReferences
from .receipts import ReceiptIds

MAX_REMEMBERED = 100_000
#: How long the MO's response waits for the store's word on the window before replying regardless.
CLAIM_TIMEOUT = 2.0


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
        store: SentGuards | None = None,
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
        #: Where the window is shared with the other processes (None: this process alone).
        self.store = store

    async def confirm(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        mo: DeliverSm | DataSm,
        number: str,
        kind: str,
        text: str,
    ) -> None:
        """Send one reply to the subscriber, unless it would loop or has nowhere to go.

        Returns once the reply is claimed (the MO's response waits for that, as a STOP's waits for
        its commit); the reply itself is sent in a task of its own.
        """
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
        claimed = await self._claim(account, number, kind)
        if claimed is False:
            self.log.info("keyword answered by another process within the confirmation window", kind=kind)
            return
        self.spawn(self._send, session, account, mo, number, kind, text, claimed)

    async def _claim(self, account: AccountPolicy, number: str, kind: str) -> datetime | bool | None:
        """The time this reply was claimed in the store at, False when another process holds the
        window, None when there is no store to ask or it failed."""
        if self.store is None:
            return None
        at = utcnow()
        window = account.config.optout.confirmation_window
        try:
            with anyio.fail_after(CLAIM_TIMEOUT):
                if await self.store.claim_confirmation(account.scope, number, kind, at, window):
                    return at
                return False
        except (StoreError, TimeoutError) as exc:
            self.log.warning(
                "confirmation window not shared; replying as this process sees it", error=str(exc)
            )
            return None

    async def _release(self, account: AccountPolicy, number: str, kind: str, at: datetime) -> None:
        assert self.store is not None
        try:
            await self.store.release_confirmation(account.scope, number, kind, at)
        except StoreError as exc:
            self.log.warning("confirmation claim not released", error=str(exc))

    async def _send(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        mo: DeliverSm | DataSm,
        number: str,
        kind: str,
        text: str,
        claimed: datetime | None,
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
            if claimed is not None:
                await self._release(account, number, kind, claimed)
            return
        self.metrics.confirmations.labels(account.scope, kind).inc()
        self.audit.queue(
            account_event(
                EventType.CONFIRMATION_SENT, number, account, text=text, message_ids=tuple(ids), reason=kind
            )
        )
