"""The simulated SMSC without its sockets: answers each session's binds and requests, records the
submits, applies the armed faults, queues receipts, and lets tests wait for what they expect.

Every accepted connection is a :class:`gateway.proxy.link.Link` around a ``Connection(Role.SMSC)``
(see :mod:`tools.smsc_sim.server`), whose events come to :meth:`SmscCore.on_event`: a synchronous
callback that answers in place; the link flushes the responses once per received batch. Delayed
responses and receipts go through two FIFO queues, each served by one task: nothing on the hot path
starts a task or logs.
"""

from __future__ import annotations

import struct
import time
from collections import Counter
from collections.abc import Callable
from typing import Any, Final

import anyio
import structlog

from gateway.proxy.link import Expired, Link
from gateway.smpp.constants import (
    BIND_COMMANDS,
    SMPP_VERSION_34,
    BindMode,
    CommandId,
    CommandStatus,
    MessageState,
    Tag,
)
from gateway.smpp.events import Rejected, Request, Response
from gateway.smpp.fields import Tlv
from gateway.smpp.pdu import (
    CancelSmResp,
    DataSmResp,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSmResp,
    SubmitMultiResp,
    SubmitSmResp,
    make_response,
)
from tools.smsc_sim.faults import Faults
from tools.smsc_sim.model import (
    COUNTER_NAME,
    MODE_NAMES,
    SMSC_SYSTEM_ID,
    Received,
    RoundRobin,
    Session,
    SubmitPdu,
)
from tools.smsc_sim.receipts import RECEIPT, ReceiptQueue
from tools.smsc_sim.timers import FifoTimer

__all__ = ["SmscCore", "submit_sm_resp"]

C = CommandId
S = CommandStatus
_HEAD: Final = struct.Struct(">IIII")


def submit_sm_resp(sequence_number: int, message_id: str) -> SubmitSmResp:
    """An OK submit_sm_resp with its frame built directly (the codec would give the same bytes, 2 µs
    slower): ``encode`` returns ``raw`` when it is set, as for a decoded PDU."""
    resp = SubmitSmResp(sequence_number=sequence_number, message_id=message_id)
    body = message_id.encode("latin-1") + b"\x00"
    frame = _HEAD.pack(16 + len(body), C.SUBMIT_SM_RESP, 0, sequence_number) + body
    object.__setattr__(resp, "raw", frame)
    return resp


def _absolute_time(wall: float) -> str:
    """§7.1.1 absolute time format YYMMDDhhmmsstnnp, in UTC."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(wall)) + "000+"


class SmscCore:
    """Accepts binds, answers submits with message ids, queues receipts and misbehaves on request."""

    def __init__(
        self,
        users: dict[str, str] | None = None,
        receipts: bool = False,
        receipt_delay: float = 0.0,
        message_id_prefix: str = "",
        *,
        keep: int | None = None,
        log: Any = None,
    ) -> None:
        """``users`` maps system_id to password (None accepts any credentials). ``receipts`` sends a
        receipt for every accepted submit (otherwise only when registered_delivery asks for one).
        ``keep`` bounds :attr:`received` to about that many most recent records (None keeps all)."""
        self.users = users
        self.receipts = receipts
        self.receipt_delay = receipt_delay
        self.message_id_prefix = message_id_prefix
        self.keep = keep
        self.log = log if log is not None else structlog.get_logger("stopgate.smsc_sim")
        #: Every submit_sm / submit_multi / data_sm in arrival order (see ``keep``).
        self.received: list[Received] = []
        #: Every connection currently open, by :attr:`Session.id`.
        self.sessions: dict[int, Session] = {}
        self.counters: Counter[str] = Counter()
        #: The faults armed now (see :meth:`throttle_next` and the rest).
        self.injected = Faults()
        self._next_id = 0
        self._submits = 0
        self._turns = RoundRobin()
        self._delayed = FifoTimer()
        self._receipt_queue = ReceiptQueue(self.sessions, self.counters, self._turns)
        self._changed: anyio.Event | None = None

    # --- state for tests ------------------------------------------------------------------------

    @property
    def bound_sessions(self) -> list[Session]:
        """Sessions bound now, oldest first (each with ``system_id`` and ``mode``)."""
        return [s for s in self.sessions.values() if s.bound]

    @property
    def submit_count(self) -> int:
        """How many submit_sm / submit_multi / data_sm arrived in all (``received`` may keep fewer)."""
        return self._submits

    def submits_to(self, destination_addr: str) -> list[Received]:
        """Received records addressed to ``destination_addr`` (submit_multi: to any of its destinations)."""
        return [r for r in self.received if destination_addr in r.destinations]

    def clear(self) -> None:
        """Forget received records and counters (faults and sessions stay)."""
        self.received.clear()
        self.counters.clear()
        self._submits = 0

    def _notify(self) -> None:
        if self._changed is not None:
            self._changed.set()
            self._changed = None

    async def wait_until(self, predicate: Callable[[], object], timeout: float = 5.0, what: str = "") -> None:
        """Wait until ``predicate()`` is true; it is re-checked whenever a session or a record changes.

        Raises TimeoutError naming ``what``."""
        try:
            with anyio.fail_after(timeout):
                while not predicate():
                    if self._changed is None:
                        self._changed = anyio.Event()
                    await self._changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what or predicate!r}") from None

    async def wait_for_submits(self, count: int, timeout: float = 5.0) -> list[Received]:
        """Wait until ``count`` submits arrived in all; returns :attr:`received`."""
        await self.wait_until(lambda: self._submits >= count, timeout, f"{count} submits")
        return list(self.received)

    async def wait_for_binds(
        self, count: int, timeout: float = 5.0, system_id: str | None = None
    ) -> list[Session]:
        """Wait until at least ``count`` sessions (of ``system_id``) are bound; returns them."""

        def matching() -> list[Session]:
            return [s for s in self.bound_sessions if system_id is None or s.system_id == system_id]

        await self.wait_until(lambda: len(matching()) >= count, timeout, f"{count} bound sessions")
        return matching()

    # --- fault injection ----------------------------------------------------------------------

    def throttle_next(self, n: int) -> None:
        """Answer the next ``n`` submits with ESME_RTHROTTLED."""
        self.injected.throttle_next(n)

    def fail_next(self, n: int, status: int = S.ESME_RSYSERR) -> None:
        """Answer the next ``n`` submits with ``status`` (any command_status)."""
        self.injected.fail_next(n, status)

    def generic_nack_next(self, n: int, status: int = S.ESME_RSYSERR) -> None:
        """Answer the next ``n`` submits with generic_nack carrying ``status``."""
        self.injected.generic_nack_next(n, status)

    def stall(self, on: bool = True, *, enquire_link: bool = False, binds: bool = False) -> None:
        """Stop answering message requests (submit_sm, submit_multi, data_sm, query_sm, cancel_sm,
        replace_sm) while still reading them; the ones that arrive meanwhile are never answered.
        Binds, unbinds and enquire_link are still answered unless ``binds`` (binds and unbinds) or
        ``enquire_link`` is true."""
        faults = self.injected
        faults.stall(on, enquire_link=enquire_link, binds=binds)
        self.log.info(
            "stall", on=faults.stalled, binds=faults.stall_binds, enquire_link=faults.drop_enquire_link_resp
        )

    def respond_delay(self, seconds: float) -> None:
        """Hold every response to a message request (submits, query/cancel/replace) this long."""
        self.injected.respond_delay(seconds)

    def refuse_binds(self, on: bool = True) -> None:
        """Answer binds with ESME_RBINDFAIL."""
        self.injected.refuse_binds(on)

    def reset_faults(self) -> None:
        self.injected.reset()

    @property
    def faults(self) -> dict[str, Any]:
        return self.injected.summary()

    # --- requests from ESMEs ------------------------------------------------------------------------

    def on_event(self, session: Session, link: Link, event: object) -> None:
        """The link's event handler for ``session``: answer requests, count receipts' answers."""
        if type(event) is Request:
            pdu = event.pdu
            command_id = pdu.command_id
            if command_id == C.SUBMIT_SM or command_id == C.SUBMIT_MULTI or command_id == C.DATA_SM:
                self._on_submit(session, link, pdu)  # type: ignore[arg-type]
            elif command_id in BIND_COMMANDS:
                self._on_bind(session, link, pdu)
            elif command_id == C.UNBIND:
                self.counters["unbinds"] += 1
                if self.injected.stall_binds:
                    return
                link.answer_unbind(pdu)
                link.log.info("unbind", system_id=session.system_id)
            else:
                self._on_other(session, link, pdu)
        elif type(event) is Response:
            if event.context is RECEIPT:
                if event.pdu.command_status == S.ESME_ROK and event.pdu.command_id == C.DELIVER_SM_RESP:
                    self.counters["receipts_acked"] += 1
                else:
                    self.counters["receipts_refused"] += 1
                if self._changed is not None:
                    self._notify()
        elif type(event) is Expired:
            if event.outstanding.context is RECEIPT:
                self.counters["receipts_unanswered"] += 1
                self._notify()
        elif type(event) is Rejected:
            self.counters["rejected"] += 1

    def _on_submit(self, session: Session, link: Link, pdu: SubmitPdu) -> None:
        self._submits += 1
        self.counters[COUNTER_NAME[type(pdu)]] += 1
        if self.injected.active:
            record = self._faulty_submit(session, link, pdu)
        else:
            self._next_id += 1
            message_id = f"{self.message_id_prefix}{self._next_id:08x}"
            if pdu.command_id == C.SUBMIT_SM:
                resp: Pdu = submit_sm_resp(pdu.sequence_number, message_id)
            elif pdu.command_id == C.SUBMIT_MULTI:
                resp = SubmitMultiResp(sequence_number=pdu.sequence_number, message_id=message_id)
            else:
                resp = DataSmResp(sequence_number=pdu.sequence_number, message_id=message_id)
            link.conn.send_response(resp)  # flushed by the link after this batch of events
            record = Received(session.system_id, pdu, message_id, S.ESME_ROK, False, session.id)
            if self.receipts or pdu.registered_delivery & 1:
                self._receipt_queue.queue(session, pdu, message_id, self.receipt_delay)
        received = self.received
        received.append(record)
        if self.keep is not None and len(received) > self.keep + self.keep // 4 + 16:
            del received[: len(received) - self.keep]
        if self._changed is not None:
            self._notify()

    def _faulty_submit(self, session: Session, link: Link, pdu: SubmitPdu) -> Received:
        refusal = self.injected.refuse_submit(pdu)
        if refusal is None:
            self._next_id += 1
            message_id = f"{self.message_id_prefix}{self._next_id:08x}"
            self._answer(link, make_response(pdu, S.ESME_ROK, message_id=message_id))
            if self.receipts or pdu.registered_delivery & 1:
                self._receipt_queue.queue(session, pdu, message_id, self.injected.delay + self.receipt_delay)
            return Received(session.system_id, pdu, message_id, S.ESME_ROK, False, session.id)
        counter, resp = refusal
        self.counters[counter] += 1
        if resp is None:  # stalled: never answered
            return Received(session.system_id, pdu, "", None, False, session.id)
        self._answer(link, resp)
        nack = type(resp) is GenericNack
        return Received(session.system_id, pdu, "", resp.command_status, nack, session.id)

    def _answer(self, link: Link, resp: Pdu) -> None:
        """Answer now (flushed after the batch) or after the configured delay."""
        if self.injected.delay:
            self._delayed.push(anyio.current_time() + self.injected.delay, (link, resp))
        else:
            link.conn.send_response(resp)

    def _send_delayed(self, item: tuple[Link, Pdu]) -> bool:
        link, resp = item
        if not link.closed:
            link.respond(resp)
        return True

    def _on_bind(self, session: Session, link: Link, pdu: Any) -> None:
        if self.injected.stall_binds:
            self.counters["stalled"] += 1
            return
        system_id: str = pdu.system_id
        if self.injected.refusing_binds:
            status: int = S.ESME_RBINDFAIL
        elif self.users is not None and system_id not in self.users:
            status = S.ESME_RINVSYSID
        elif self.users is not None and self.users[system_id] != pdu.password:
            status = S.ESME_RINVPASWD
        else:
            status = S.ESME_ROK
        if status != S.ESME_ROK:
            self.counters["bind_failures"] += 1
            link.log.info("bind refused", system_id=system_id, status=f"0x{status:08x}")
            link.reject(pdu, status)
            return
        mode = BindMode(pdu.command_id)
        link.respond(
            make_response(
                pdu,
                S.ESME_ROK,
                system_id=SMSC_SYSTEM_ID,
                tlvs=(Tlv(Tag.SC_INTERFACE_VERSION, bytes((SMPP_VERSION_34,))),),
            )
        )
        session.system_id = system_id
        session.mode = mode
        self.counters["binds"] += 1
        link.log.info("bound", system_id=system_id, mode=MODE_NAMES[mode])
        if mode.can_receive:
            self._receipt_queue.release(system_id)
        self._notify()

    def _on_other(self, session: Session, link: Link, pdu: Pdu) -> None:
        command_id = pdu.command_id
        self.counters[command_id.name.lower()] += 1
        if self.injected.stalled:
            self.counters["stalled"] += 1
            return
        if command_id == C.QUERY_SM:
            assert isinstance(pdu, QuerySm)
            if self._known_id(pdu.message_id):
                resp: Pdu = QuerySmResp(
                    sequence_number=pdu.sequence_number,
                    message_id=pdu.message_id,
                    final_date=_absolute_time(time.time()),
                    message_state=MessageState.DELIVERED,
                )
            else:
                resp = make_response(pdu, S.ESME_RINVMSGID)
        elif command_id == C.CANCEL_SM:
            resp = CancelSmResp(sequence_number=pdu.sequence_number)
        elif command_id == C.REPLACE_SM:
            resp = ReplaceSmResp(sequence_number=pdu.sequence_number)
        else:  # anything else the state table lets through: refuse it
            resp = make_response(pdu, S.ESME_RINVCMDID)
        self._answer(link, resp)

    def _known_id(self, message_id: str) -> bool:
        prefix = self.message_id_prefix
        if not message_id.startswith(prefix):
            return False
        try:
            number = int(message_id[len(prefix) :], 16)
        except ValueError:
            return False
        return 0 < number <= self._next_id
