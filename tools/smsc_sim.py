"""A simulated SMSC for tests, the demo and benchmarks.

In-process (tests)::

    async with running_smsc(users={"proxy": "proxypw"}, receipts=True) as smsc:
        ...  # point an ESME (or the proxy) at ("127.0.0.1", smsc.port)
        [rec] = await smsc.wait_for_submits(1, timeout=5)
        resp = await smsc.deliver(source_addr="447700900401", destination_addr="88088", text="STOP")

As a process (demo, benchmarks)::

    python -m tools.smsc_sim --host 127.0.0.1 --port 2776 --control-port 2777 --users proxy:proxypw
    python -m tools.smsc_ctl --port 2777 deliver --from 447700900401 --to 88088 --text STOP
    python -m tools.smsc_sim --selftest          # throughput check: 50,000 submit_sm, window 64

Every accepted connection is a :class:`gateway.proxy.link.Link` around a ``Connection(Role.SMSC)``, so
bind states, malformed PDUs and enquire_link are handled by the same core as the proxy. The request
handler is a synchronous callback that answers in place; responses are flushed once per received batch.
Delayed responses and delivery receipts go through two FIFO queues, each served by one task: nothing
on the hot path starts a task or logs.

Fault injection (:meth:`SimulatedSmsc.throttle_next`, :meth:`~SimulatedSmsc.fail_next`,
:meth:`~SimulatedSmsc.generic_nack_next`, :meth:`~SimulatedSmsc.stall`,
:meth:`~SimulatedSmsc.respond_delay`, :meth:`~SimulatedSmsc.refuse_binds`,
:meth:`~SimulatedSmsc.unbind_all`, :meth:`~SimulatedSmsc.disconnect_all`) works in-process and through
the optional line-based JSON control port (see :data:`CONTROL_COMMANDS`).
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import signal
import socket
import ssl
import struct
import subprocess
import sys
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import anyio
import anyio.abc
import structlog
from anyio.streams.buffered import BufferedByteReceiveStream
from anyio.streams.tls import TLSListener

from gateway.proxy.link import Expired, Link, LinkClosed, LinkTimers, ResponseTimeout
from gateway.smpp.codec import decode, encode, parse_header
from gateway.smpp.connection import Connection
from gateway.smpp.constants import (
    BIND_COMMANDS,
    SMPP_VERSION_34,
    BindMode,
    CommandId,
    CommandStatus,
    EsmClass,
    MessageState,
    Tag,
)
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.events import Rejected, Request, Response
from gateway.smpp.fields import Tlv
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import (
    BindTransceiver,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    GenericNack,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    make_response,
    message_text_bytes,
)
from gateway.smpp.splice import with_sequence
from gateway.smpp.states import Role, State
from gateway.text.encoding import can_encode, decode_text, encode_text
from gateway.text.udh import split_udh

__all__ = [
    "CONTROL_COMMANDS",
    "NoReceiverError",
    "Received",
    "Session",
    "SimulatedSmsc",
    "format_receipt",
    "main",
    "running_smsc",
]

C = CommandId
S = CommandStatus

#: The system_id the simulator puts in its bind responses.
SMSC_SYSTEM_ID: Final = "smscsim"
#: How many deliver_sm (receipts) may await their response on one session before the sender waits.
RECEIPT_WINDOW: Final = 256
_BOUND = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
_MODE_NAMES: Final = {
    BindMode.TRANSMITTER: "transmitter",
    BindMode.RECEIVER: "receiver",
    BindMode.TRANSCEIVER: "transceiver",
}
_ENQUIRE_LINK_RESP = int(C.ENQUIRE_LINK_RESP)
_HEAD = struct.Struct(">IIII")
_LINGER_RST = struct.pack("ii", 1, 0)
#: Marks our receipts' deliver_sm so their responses are counted, not handed to a waiter.
_RECEIPT = object()

SubmitPdu = SubmitSm | SubmitMulti | DataSm
_COUNTER_NAME: Final[dict[type, str]] = {
    SubmitSm: "submit_sm",
    SubmitMulti: "submit_multi",
    DataSm: "data_sm",
}


class NoReceiverError(RuntimeError):
    """No bound receiver or transceiver session (of the requested system_id) to deliver to."""


@dataclass(slots=True, eq=False)
class Received:
    """One submit_sm, submit_multi or data_sm as it arrived, and how the simulator answered it."""

    #: system_id of the session that sent it.
    system_id: str
    pdu: SubmitPdu
    #: The message id given in the response; "" when the request was refused or not answered.
    message_id: str
    #: command_status of the answer; None when it was not answered (stalled).
    status: int | None
    #: The answer was a generic_nack (``status`` holds its command_status).
    generic_nack: bool = False
    #: :attr:`Session.id` of the session that sent it.
    session_id: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == S.ESME_ROK and not self.generic_nack

    @property
    def destinations(self) -> tuple[str, ...]:
        pdu = self.pdu
        if isinstance(pdu, SubmitMulti):
            return tuple(dest.address for dest in pdu.dests)
        return (pdu.destination_addr,)

    @property
    def destination_addr(self) -> str:
        return self.destinations[0] if self.destinations else ""

    @property
    def source_addr(self) -> str:
        return self.pdu.source_addr

    @property
    def payload(self) -> bytes:
        """The message octets (short_message or message_payload) without any UDH."""
        return _strip_udh(self.pdu.esm_class, message_text_bytes(self.pdu))

    @property
    def text(self) -> str:
        """The message text decoded by its data_coding, without any UDH."""
        return decode_text(self.payload, self.pdu.data_coding)

    def summary(self) -> dict[str, Any]:
        return {
            "system_id": self.system_id,
            "command": self.pdu.command_id.name.lower(),
            "source_addr": self.source_addr,
            "destinations": list(self.destinations),
            "data_coding": self.pdu.data_coding,
            "esm_class": self.pdu.esm_class,
            "text": self.text,
            "message_id": self.message_id,
            "status": self.status,
            "generic_nack": self.generic_nack,
        }


@dataclass(slots=True, eq=False)
class Session:
    """One accepted connection; ``mode`` is set once a bind succeeded."""

    id: int
    peer: str
    link: Link
    system_id: str = ""
    mode: BindMode | None = None
    connected_at: float = 0.0

    @property
    def bound(self) -> bool:
        return self.mode is not None and not self.link.closed and self.link.conn.state in _BOUND

    @property
    def can_receive(self) -> bool:
        return self.bound and self.link.conn.state in (State.BOUND_RX, State.BOUND_TRX)

    @property
    def mode_name(self) -> str:
        return _MODE_NAMES[self.mode] if self.mode is not None else "open"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "peer": self.peer, "system_id": self.system_id, "mode": self.mode_name}


@dataclass(slots=True)
class _Receipt:
    system_id: str
    session_id: int
    message_id: str
    submitted: float
    #: (ton, npi, address) of the handset, the receipt's source.
    handset: tuple[int, int, str]
    #: (ton, npi, address) of the submitter, the receipt's destination.
    sender: tuple[int, int, str]
    text: str


class _FifoTimer:
    """Items due at a time, served in insertion order by one task (the delays are constant)."""

    def __init__(self) -> None:
        self.items: deque[tuple[float, Any]] = deque()
        self._wake: anyio.Event | None = None

    def push(self, due: float, item: Any) -> None:
        self.items.append((due, item))
        if self._wake is not None:
            self._wake.set()
            self._wake = None

    async def run(self, handle: Callable[[Any], bool]) -> None:
        """Call ``handle(item)`` once each item is due; False means "not now", retried shortly."""
        items = self.items
        while True:
            if not items:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            now = anyio.current_time()
            handled = 0
            while items and handled < 512:
                due, item = items[0]
                if due > now:
                    break
                if not handle(item):
                    break
                items.popleft()
                handled += 1
            if not items:
                continue
            due = items[0][0]
            if due > now:
                await anyio.sleep(due - now)
            elif handled:
                await anyio.sleep(0)  # a long run of due items: let the links write
            else:
                await anyio.sleep(0.005)  # the head was refused (its session's window is full)


class _SimStream(anyio.abc.ByteStream):
    """The accepted socket, able to swallow enquire_link_resp frames while the simulator stalls them."""

    def __init__(self, inner: anyio.abc.ByteStream, smsc: SimulatedSmsc) -> None:
        self.inner = inner
        self.smsc = smsc

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self.inner.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        if self.smsc._drop_enquire_link_resp:
            item = _drop_frames(item, _ENQUIRE_LINK_RESP)
            if not item:
                return
        await self.inner.send(item)

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self.inner.extra_attributes


def _drop_frames(data: bytes, command_id: int) -> bytes:
    out = []
    pos, end = 0, len(data)
    while pos + 16 <= end:
        length, cid, _, _ = _HEAD.unpack_from(data, pos)
        if length < 16:
            out.append(data[pos:])
            break
        if cid != command_id:
            out.append(data[pos : pos + length])
        pos += length
    else:
        out.append(data[pos:])
    return b"".join(out)


def submit_sm_resp(sequence_number: int, message_id: str) -> SubmitSmResp:
    """An OK submit_sm_resp with its frame built directly (the codec would give the same bytes, 2 µs
    slower): ``encode`` returns ``raw`` when it is set, as for a decoded PDU."""
    resp = SubmitSmResp(sequence_number=sequence_number, message_id=message_id)
    body = message_id.encode("latin-1") + b"\x00"
    frame = _HEAD.pack(16 + len(body), C.SUBMIT_SM_RESP, 0, sequence_number) + body
    object.__setattr__(resp, "raw", frame)
    return resp


def _strip_udh(esm_class: int, data: bytes) -> bytes:
    if esm_class & EsmClass.UDHI:
        with contextlib.suppress(ValueError):
            return split_udh(data)[1]
    return data


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


def _absolute_time(wall: float) -> str:
    """§7.1.1 absolute time format YYMMDDhhmmsstnnp, in UTC."""
    return time.strftime("%y%m%d%H%M%S", time.gmtime(wall)) + "000+"


def _mo_addresses(
    source: str, source_ton: int, source_npi: int, dest: str, dest_ton: int, dest_npi: int
) -> dict[str, Any]:
    """The address fields of an MO deliver_sm or data_sm (the same six in both, §4.6.1 and §4.7.1)."""
    return {
        "source_addr_ton": source_ton,
        "source_addr_npi": source_npi,
        "source_addr": source,
        "dest_addr_ton": dest_ton,
        "dest_addr_npi": dest_npi,
        "destination_addr": dest,
    }


class SimulatedSmsc:
    """An SMSC that accepts binds, answers submits with message ids, sends receipts and MO, and
    misbehaves on request."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        users: dict[str, str] | None = None,
        receipts: bool = False,
        receipt_delay: float = 0.0,
        message_id_prefix: str = "",
        *,
        control_port: int | None = None,
        keep: int | None = None,
        log: Any = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``users`` maps system_id to password (None accepts any credentials). ``receipts`` sends a
        receipt for every accepted submit (otherwise only when registered_delivery asks for one).
        ``control_port`` (0 picks a free port) opens the JSON control port. ``keep`` bounds
        :attr:`received` to about that many most recent records (None keeps all)."""
        self.host = host
        self.port = port
        self.users = users
        self.receipts = receipts
        self.receipt_delay = receipt_delay
        self.message_id_prefix = message_id_prefix
        self.control_port = control_port
        self.keep = keep
        self.log = log if log is not None else structlog.get_logger("stopgate.smsc_sim")
        #: Serve SMPP over TLS with this (server-side) context; the control port stays plain.
        self.ssl_context = ssl_context
        #: Every submit_sm / submit_multi / data_sm in arrival order (see ``keep``).
        self.received: list[Received] = []
        #: Every connection currently open, by :attr:`Session.id`.
        self.sessions: dict[int, Session] = {}
        self.counters: Counter[str] = Counter()
        # faults
        self._stalled = False
        self._stall_binds = False
        self._drop_enquire_link_resp = False
        self._delay = 0.0
        self._throttle_left = 0
        self._fail_left = 0
        self._fail_status: int = S.ESME_RSYSERR
        self._nack_left = 0
        self._nack_status: int = S.ESME_RSYSERR
        self._refusing_binds = False
        self._faulty = False
        # state
        self._next_id = 0
        self._next_session = 0
        self._round_robin = 0
        self._submits = 0
        self._delayed = _FifoTimer()
        self._receipt_queue = _FifoTimer()
        self._parked: dict[str, list[_Receipt]] = {}
        self._changed: anyio.Event | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._stopped: anyio.Event | None = None
        #: The task group of running_smsc(), for restart().
        self._owner: anyio.abc.TaskGroup | None = None

    # --- lifecycle --------------------------------------------------------------------------------

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen (and serve the control port, if any) until :meth:`stop` or cancellation."""
        if self._tg is not None:
            raise RuntimeError("already serving")
        self._stopped = anyio.Event()
        try:
            listener: anyio.abc.Listener[Any] = await anyio.create_tcp_listener(
                local_host=self.host, local_port=self.port
            )
            control = None
            try:
                self.port = _listener_port(listener)
                if self.ssl_context is not None:
                    listener = TLSListener(listener, self.ssl_context, standard_compatible=False)
                if self.control_port is not None:
                    control = await anyio.create_tcp_listener(
                        local_host=self.host, local_port=self.control_port
                    )
                    self.control_port = _listener_port(control)
                async with anyio.create_task_group() as tg:
                    self._tg = tg
                    tg.start_soon(self._delayed.run, self._send_delayed)
                    tg.start_soon(self._receipt_queue.run, self._send_receipt)
                    tg.start_soon(listener.serve, self._handle_connection, tg)
                    if control is not None:
                        tg.start_soon(control.serve, self._handle_control, tg)
                    self.log.info(
                        "smsc listening", host=self.host, port=self.port, control_port=self.control_port
                    )
                    task_status.started()
            finally:
                with anyio.CancelScope(shield=True):
                    await listener.aclose()
                    if control is not None:
                        await control.aclose()
        finally:
            self._tg = None
            self.sessions.clear()
            self._stopped.set()
            self._notify()

    async def restart(self) -> None:
        """Stop, then serve again on the same port(s) (only for a simulator from :func:`running_smsc`)."""
        if self._owner is None:
            raise RuntimeError("restart() needs a simulator started by running_smsc(); call serve() instead")
        await self.stop()
        await self._owner.start(self.serve)

    async def stop(self) -> None:
        """Close the listener(s) and every connection; :meth:`serve` may be called again (same port)."""
        if self._tg is None or self._stopped is None:
            return
        self._tg.cancel_scope.cancel()
        await self._stopped.wait()
        self.log.info("smsc stopped", port=self.port)

    @property
    def serving(self) -> bool:
        return self._tg is not None

    async def _handle_connection(self, stream: anyio.abc.SocketStream) -> None:
        self._next_session += 1
        peer = _peer(stream)
        conn = Connection(Role.SMSC, response_timeout=60.0)
        link = Link(
            _SimStream(stream, self),
            conn,
            name=f"smsc-sim:{self._next_session}",
            timers=LinkTimers(enquire_link_interval=0, inactivity_timeout=0, incomplete_pdu_timeout=10.0),
            log=self.log.bind(session=self._next_session, peer=peer),
        )
        session = Session(self._next_session, peer, link, connected_at=anyio.current_time())
        self.sessions[session.id] = session
        self.counters["connections"] += 1
        try:
            await link.run(functools.partial(self._on_event, session))
        finally:
            self.sessions.pop(session.id, None)
            if session.mode is not None:
                link.log.info("session closed", system_id=session.system_id, reason=link.close_reason)
            self._notify()

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

    def _rearm(self) -> None:
        self._faulty = bool(
            self._stalled or self._delay or self._throttle_left or self._fail_left or self._nack_left
        )

    def throttle_next(self, n: int) -> None:
        """Answer the next ``n`` submits with ESME_RTHROTTLED."""
        self._throttle_left = max(0, int(n))
        self._rearm()

    def fail_next(self, n: int, status: int = S.ESME_RSYSERR) -> None:
        """Answer the next ``n`` submits with ``status`` (any command_status)."""
        self._fail_left = max(0, int(n))
        self._fail_status = int(status)
        self._rearm()

    def generic_nack_next(self, n: int, status: int = S.ESME_RSYSERR) -> None:
        """Answer the next ``n`` submits with generic_nack carrying ``status``."""
        self._nack_left = max(0, int(n))
        self._nack_status = int(status)
        self._rearm()

    def stall(self, on: bool = True, *, enquire_link: bool = False, binds: bool = False) -> None:
        """Stop answering message requests (submit_sm, submit_multi, data_sm, query_sm, cancel_sm,
        replace_sm) while still reading them; the ones that arrive meanwhile are never answered.
        Binds, unbinds and enquire_link are still answered unless ``binds`` (binds and unbinds) or
        ``enquire_link`` is true."""
        self._stalled = bool(on)
        self._stall_binds = bool(on and binds)
        self._drop_enquire_link_resp = bool(on and enquire_link)
        self._rearm()
        self.log.info(
            "stall", on=self._stalled, binds=self._stall_binds, enquire_link=self._drop_enquire_link_resp
        )

    def respond_delay(self, seconds: float) -> None:
        """Hold every response to a message request (submits, query/cancel/replace) this long."""
        self._delay = max(0.0, float(seconds))
        self._rearm()

    def refuse_binds(self, on: bool = True) -> None:
        """Answer binds with ESME_RBINDFAIL."""
        self._refusing_binds = bool(on)

    def reset_faults(self) -> None:
        self._throttle_left = self._fail_left = self._nack_left = 0
        self._stalled = self._stall_binds = self._drop_enquire_link_resp = self._refusing_binds = False
        self._delay = 0.0
        self._rearm()

    @property
    def faults(self) -> dict[str, Any]:
        return {
            "stalled": self._stalled,
            "stall_binds": self._stall_binds,
            "stall_enquire_link": self._drop_enquire_link_resp,
            "delay": self._delay,
            "throttle_left": self._throttle_left,
            "fail_left": self._fail_left,
            "fail_status": self._fail_status,
            "generic_nack_left": self._nack_left,
            "refuse_binds": self._refusing_binds,
        }

    async def unbind_all(self, timeout: float = 2.0) -> int:
        """Send unbind on every bound session, close each after its unbind_resp (or ``timeout``);
        returns how many sessions were unbound."""
        sessions = self.bound_sessions
        self.log.info("unbinding all sessions", sessions=len(sessions))
        async with anyio.create_task_group() as tg:
            for session in sessions:
                tg.start_soon(self._unbind_session, session, timeout)
        return len(sessions)

    async def _unbind_session(self, session: Session, timeout: float) -> None:
        self.counters["unbinds_sent"] += 1
        await session.link.unbind(timeout)
        with anyio.move_on_after(timeout):
            await session.link.wait_closed()

    async def disconnect_all(self) -> int:
        """Drop every connection abruptly (TCP reset, no unbind); returns how many were dropped."""
        sessions = list(self.sessions.values())
        self.log.info("dropping all connections", sessions=len(sessions))
        for session in sessions:
            with contextlib.suppress(Exception):
                raw = session.link.stream.extra(anyio.abc.SocketAttribute.raw_socket)
                raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            await session.link.close("disconnect_all")
        with anyio.move_on_after(2.0):
            for session in sessions:
                await session.link.wait_closed()
        self.counters["disconnects"] += len(sessions)
        return len(sessions)

    # --- requests from ESMEs ------------------------------------------------------------------------

    def _on_event(self, session: Session, link: Link, event: object) -> None:
        if type(event) is Request:
            pdu = event.pdu
            command_id = pdu.command_id
            if command_id == C.SUBMIT_SM or command_id == C.SUBMIT_MULTI or command_id == C.DATA_SM:
                self._on_submit(session, link, pdu)  # type: ignore[arg-type]
            elif command_id in BIND_COMMANDS:
                self._on_bind(session, link, pdu)
            elif command_id == C.UNBIND:
                self.counters["unbinds"] += 1
                if self._stall_binds:
                    return
                link.answer_unbind(pdu)
                link.log.info("unbind", system_id=session.system_id)
            else:
                self._on_other(session, link, pdu)
        elif type(event) is Response:
            if event.context is _RECEIPT:
                if event.pdu.command_status == S.ESME_ROK and event.pdu.command_id == C.DELIVER_SM_RESP:
                    self.counters["receipts_acked"] += 1
                else:
                    self.counters["receipts_refused"] += 1
                if self._changed is not None:
                    self._notify()
        elif type(event) is Expired:
            if event.outstanding.context is _RECEIPT:
                self.counters["receipts_unanswered"] += 1
                self._notify()
        elif type(event) is Rejected:
            self.counters["rejected"] += 1

    def _on_submit(self, session: Session, link: Link, pdu: SubmitPdu) -> None:
        self._submits += 1
        self.counters[_COUNTER_NAME[type(pdu)]] += 1
        if self._faulty:
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
                self._queue_receipts(session, pdu, message_id, 0.0)
        received = self.received
        received.append(record)
        if self.keep is not None and len(received) > self.keep + self.keep // 4 + 16:
            del received[: len(received) - self.keep]
        if self._changed is not None:
            self._notify()

    def _faulty_submit(self, session: Session, link: Link, pdu: SubmitPdu) -> Received:
        seq = pdu.sequence_number
        if self._stalled:
            self.counters["stalled"] += 1
            return Received(session.system_id, pdu, "", None, False, session.id)
        nack = False
        message_id = ""
        if self._nack_left:
            self._nack_left -= 1
            self.counters["generic_nacks"] += 1
            status = self._nack_status
            resp: Pdu = GenericNack(sequence_number=seq, command_status=status)
            nack = True
        elif self._throttle_left:
            self._throttle_left -= 1
            self.counters["throttled"] += 1
            status = S.ESME_RTHROTTLED
            resp = make_response(pdu, status)
        elif self._fail_left:
            self._fail_left -= 1
            self.counters["failed"] += 1
            status = self._fail_status
            resp = make_response(pdu, status)
        else:
            status = S.ESME_ROK
            self._next_id += 1
            message_id = f"{self.message_id_prefix}{self._next_id:08x}"
            resp = make_response(pdu, status, message_id=message_id)
        self._rearm()
        self._answer(link, resp)
        if message_id and (self.receipts or pdu.registered_delivery & 1):
            self._queue_receipts(session, pdu, message_id, self._delay)
        return Received(session.system_id, pdu, message_id, status, nack, session.id)

    def _answer(self, link: Link, resp: Pdu) -> None:
        """Answer now (flushed after the batch) or after the configured delay."""
        if self._delay:
            self._delayed.push(anyio.current_time() + self._delay, (link, resp))
        else:
            link.conn.send_response(resp)

    def _send_delayed(self, item: tuple[Link, Pdu]) -> bool:
        link, resp = item
        if not link.closed:
            link.respond(resp)
        return True

    def _on_bind(self, session: Session, link: Link, pdu: Any) -> None:
        if self._stall_binds:
            self.counters["stalled"] += 1
            return
        system_id: str = pdu.system_id
        if self._refusing_binds:
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
        link.log.info("bound", system_id=system_id, mode=_MODE_NAMES[mode])
        if mode.can_receive:
            parked = self._parked.pop(system_id, None)
            if parked:
                now = anyio.current_time()
                for receipt in parked:
                    self._receipt_queue.push(now, receipt)
        self._notify()

    def _on_other(self, session: Session, link: Link, pdu: Pdu) -> None:
        command_id = pdu.command_id
        self.counters[command_id.name.lower()] += 1
        if self._stalled:
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

    # --- delivery receipts ------------------------------------------------------------------------

    def _queue_receipts(self, session: Session, pdu: SubmitPdu, message_id: str, delay: float) -> None:
        text = decode_text(_strip_udh(pdu.esm_class, message_text_bytes(pdu)), pdu.data_coding)[:20]
        sender = (pdu.source_addr_ton, pdu.source_addr_npi, pdu.source_addr)
        if isinstance(pdu, SubmitMulti):
            handsets = [(d.ton, d.npi, d.address) for d in pdu.dests if d.dest_flag == 1]
        else:
            handsets = [(pdu.dest_addr_ton, pdu.dest_addr_npi, pdu.destination_addr)]
        due = anyio.current_time() + delay + self.receipt_delay
        wall = time.time()
        for handset in handsets:
            receipt = _Receipt(session.system_id, session.id, message_id, wall, handset, sender, text)
            self._receipt_queue.push(due, receipt)

    def _receipt_target(self, receipt: _Receipt) -> Session | None:
        own = self.sessions.get(receipt.session_id)
        if own is not None and own.can_receive:
            return own
        candidates = [s for s in self.sessions.values() if s.system_id == receipt.system_id and s.can_receive]
        if not candidates:
            return None
        self._round_robin += 1
        return candidates[self._round_robin % len(candidates)]

    def _send_receipt(self, receipt: _Receipt) -> bool:
        target = self._receipt_target(receipt)
        if target is None:
            self.counters["receipts_parked"] += 1
            self._parked.setdefault(receipt.system_id, []).append(receipt)
            return True
        link = target.link
        if link.conn.outstanding >= RECEIPT_WINDOW or link.congested:
            return False
        try:
            link.send_nowait(self.receipt_pdu(receipt), _RECEIPT)
        except LocalProtocolError:  # the session is unbinding: try again (another session, or park)
            return False
        self.counters["receipts_sent"] += 1
        return True

    @staticmethod
    def receipt_pdu(receipt: _Receipt) -> DeliverSm:
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

    # --- mobile-originated messages ---------------------------------------------------------------

    def _receiver(self, system_id: str | None) -> Session:
        candidates = [
            s
            for s in self.sessions.values()
            if s.can_receive and (system_id is None or s.system_id == system_id)
        ]
        if not candidates:
            which = f" of system_id {system_id!r}" if system_id is not None else ""
            raise NoReceiverError(f"no receiver or transceiver session{which} is bound")
        self._round_robin += 1
        return candidates[self._round_robin % len(candidates)]

    async def send_to_esme(
        self, pdu: DeliverSm | DataSm, *, system_id: str | None = None, timeout: float = 5.0
    ) -> Pdu:
        """Send a deliver_sm or data_sm to a receive-capable session (of ``system_id``); returns the
        ESME's response (or generic_nack). Raises NoReceiverError, ResponseTimeout or LinkClosed."""
        session = self._receiver(system_id)
        self.counters["mo_sent"] += 1
        resp = await session.link.request(pdu, timeout)
        self.counters["mo_answered"] += 1
        return resp

    async def deliver(
        self,
        *,
        system_id: str | None = None,
        source_addr: str,
        destination_addr: str,
        text: str | None = None,
        short_message: bytes | None = None,
        data_coding: int = 0,
        esm_class: int = 0,
        source_addr_ton: int = 1,
        source_addr_npi: int = 1,
        dest_addr_ton: int = 0,
        dest_addr_npi: int = 0,
        tlvs: Iterable[Tlv | tuple[int, bytes]] = (),
        timeout: float = 5.0,
    ) -> Pdu:
        """Deliver an MO message as deliver_sm and return the ESME's deliver_sm_resp (or generic_nack).

        ``text`` is encoded for ``data_coding``; octets over 254 go in message_payload instead."""
        data = _message_octets(text, short_message, data_coding)
        extra = tuple(Tlv(int(tag), bytes(value)) for tag, value in tlvs)
        if len(data) > 254:
            extra = (*extra, Tlv(Tag.MESSAGE_PAYLOAD, data))
            data = b""
        pdu = DeliverSm(
            **_mo_addresses(
                source_addr, source_addr_ton, source_addr_npi, destination_addr, dest_addr_ton, dest_addr_npi
            ),
            esm_class=esm_class,
            data_coding=data_coding,
            short_message=data,
            tlvs=extra,
        )
        return await self.send_to_esme(pdu, system_id=system_id, timeout=timeout)

    async def deliver_data_sm(
        self,
        *,
        system_id: str | None = None,
        source_addr: str,
        destination_addr: str,
        text: str | None = None,
        payload: bytes | None = None,
        data_coding: int = 0,
        esm_class: int = 0,
        source_addr_ton: int = 1,
        source_addr_npi: int = 1,
        dest_addr_ton: int = 0,
        dest_addr_npi: int = 0,
        tlvs: Iterable[Tlv | tuple[int, bytes]] = (),
        timeout: float = 5.0,
    ) -> Pdu:
        """Deliver an MO message as data_sm with a message_payload TLV; returns the data_sm_resp."""
        data = _message_octets(text, payload, data_coding)
        extra = tuple(Tlv(int(tag), bytes(value)) for tag, value in tlvs)
        pdu = DataSm(
            **_mo_addresses(
                source_addr, source_addr_ton, source_addr_npi, destination_addr, dest_addr_ton, dest_addr_npi
            ),
            esm_class=esm_class,
            data_coding=data_coding,
            tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, data), *extra),
        )
        return await self.send_to_esme(pdu, system_id=system_id, timeout=timeout)

    # --- control port -----------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        return {
            "port": self.port,
            "counters": dict(self.counters),
            "submits": self._submits,
            "received": len(self.received),
            "sessions": [s.summary() for s in self.sessions.values()],
            "faults": self.faults,
            "receipts": self.receipts,
            "receipts_pending": len(self._receipt_queue.items),
            "receipts_parked": sum(len(v) for v in self._parked.values()),
        }

    async def control(self, command: Mapping[str, Any]) -> dict[str, Any]:
        """Run one control command (the decoded JSON object); never raises."""
        try:
            name = command.get("cmd")
            handler = CONTROL_COMMANDS.get(name) if isinstance(name, str) else None
            if handler is None:
                return {"ok": False, "error": f"unknown command {name!r}; known: {sorted(CONTROL_COMMANDS)}"}
            result = await handler(self, command)
            return {"ok": True, **result}
        except NoReceiverError as exc:
            return {"ok": False, "error": str(exc)}
        except (ResponseTimeout, LinkClosed) as exc:
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "error": f"bad arguments: {type(exc).__name__}: {exc}"}
        except Exception as exc:  # the control port must survive anything
            self.log.warning("control command failed", error=repr(exc))
            return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}

    async def _handle_control(self, stream: anyio.abc.SocketStream) -> None:
        buffered = BufferedByteReceiveStream(stream)
        async with stream:
            while True:
                try:
                    line = await buffered.receive_until(b"\n", 1 << 20)
                except anyio.DelimiterNotFound:
                    with contextlib.suppress(Exception):
                        await stream.send(b'{"ok": false, "error": "line too long"}\n')
                    return
                except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
                    return
                if not line.strip():
                    continue
                try:
                    command = json.loads(line)
                except ValueError as exc:
                    reply: dict[str, Any] = {"ok": False, "error": f"bad JSON: {exc}"}
                else:
                    if isinstance(command, dict):
                        reply = await self.control(command)
                    else:
                        reply = {"ok": False, "error": "expected a JSON object"}
                try:
                    await stream.send(json.dumps(reply).encode() + b"\n")
                except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    return


def _message_octets(text: str | None, data: bytes | None, data_coding: int) -> bytes:
    if (text is None) == (data is None):
        raise ValueError("give exactly one of text and short_message/payload")
    if text is not None:
        return encode_text(text, data_coding)
    assert data is not None
    return bytes(data)


def _flag(command: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = command.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} must be true or false, not {value!r}")
    return value


def _on(command: Mapping[str, Any]) -> bool:
    return _flag(command, "on", True)


def _int(command: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = command.get(key, default)
    if isinstance(value, str):
        value = int(value, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key!r} must be an integer, not {value!r}")
    return value


_DELIVER_INTS = (
    "data_coding",
    "esm_class",
    "source_addr_ton",
    "source_addr_npi",
    "dest_addr_ton",
    "dest_addr_npi",
)


def _deliver_kwargs(command: Mapping[str, Any], data_key: str) -> dict[str, Any]:
    allowed = {
        "cmd", "system_id", "source_addr", "destination_addr", "text", "hex", "data_coding", "esm_class",
        "source_addr_ton", "source_addr_npi", "dest_addr_ton", "dest_addr_npi", "tlvs", "timeout",
    }  # fmt: skip
    unknown = set(command) - allowed
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    kwargs: dict[str, Any] = {
        "source_addr": str(command["source_addr"]),
        "destination_addr": str(command["destination_addr"]),
        "timeout": float(command.get("timeout", 5.0)),
    }
    if command.get("system_id") is not None:
        kwargs["system_id"] = str(command["system_id"])
    if "hex" in command:
        kwargs[data_key] = bytes.fromhex(str(command["hex"]))
    else:
        kwargs["text"] = str(command.get("text", ""))
    for key in _DELIVER_INTS:
        if key in command:
            kwargs[key] = _int(command, key)
    kwargs["tlvs"] = [Tlv(int(tag), bytes.fromhex(value)) for tag, value in command.get("tlvs", [])]
    return kwargs


def _response_summary(resp: Pdu) -> dict[str, Any]:
    status = resp.command_status
    try:
        name = CommandStatus(status).name
    except ValueError:
        name = f"0x{status:08x}"
    return {"status": status, "status_name": name, "command": resp.command_id.name.lower()}


async def _cmd_deliver(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return _response_summary(await smsc.deliver(**_deliver_kwargs(command, "short_message")))


async def _cmd_deliver_data_sm(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return _response_summary(await smsc.deliver_data_sm(**_deliver_kwargs(command, "payload")))


async def _cmd_stats(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return smsc.stats()


async def _cmd_received(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    last = _int(command, "last", 20)
    records = smsc.received[-last:] if last > 0 else []
    return {"submits": smsc.submit_count, "records": [r.summary() for r in records]}


async def _cmd_throttle(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.throttle_next(_int(command, "n"))
    return {"faults": smsc.faults}


async def _cmd_fail(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.fail_next(_int(command, "n"), _int(command, "status", S.ESME_RSYSERR))
    return {"faults": smsc.faults}


async def _cmd_generic_nack(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.generic_nack_next(_int(command, "n"), _int(command, "status", S.ESME_RSYSERR))
    return {"faults": smsc.faults}


async def _cmd_stall(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.stall(_on(command), enquire_link=_flag(command, "enquire_link"), binds=_flag(command, "binds"))
    return {"faults": smsc.faults}


async def _cmd_delay(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.respond_delay(float(command["seconds"]))
    return {"faults": smsc.faults}


async def _cmd_refuse_binds(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.refuse_binds(_on(command))
    return {"faults": smsc.faults}


async def _cmd_receipts(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.receipts = _on(command)
    if "delay" in command:
        smsc.receipt_delay = max(0.0, float(command["delay"]))
    return {"receipts": smsc.receipts, "receipt_delay": smsc.receipt_delay}


async def _cmd_reset(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.reset_faults()
    if command.get("clear", False):
        smsc.clear()
    return {"faults": smsc.faults}


async def _cmd_unbind_all(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return {"sessions": await smsc.unbind_all(float(command.get("timeout", 2.0)))}


async def _cmd_disconnect_all(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return {"sessions": await smsc.disconnect_all()}


async def _cmd_ping(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return {}


ControlHandler = Callable[[SimulatedSmsc, Mapping[str, Any]], Awaitable[dict[str, Any]]]

#: Control-port commands: ``{"cmd": name, ...arguments}`` in, ``{"ok": true, ...}`` out.
CONTROL_COMMANDS: Final[dict[str, ControlHandler]] = {
    "ping": _cmd_ping,
    "stats": _cmd_stats,
    "received": _cmd_received,  # last (20)
    "deliver": _cmd_deliver,  # source_addr, destination_addr, text | hex, system_id, data_coding, ...
    "deliver_data_sm": _cmd_deliver_data_sm,  # same fields, sent as data_sm + message_payload
    "throttle": _cmd_throttle,  # n
    "fail": _cmd_fail,  # n, status (default 8)
    "generic_nack": _cmd_generic_nack,  # n, status (default 8)
    "stall": _cmd_stall,  # on, enquire_link (false), binds (false)
    "delay": _cmd_delay,  # seconds
    "refuse_binds": _cmd_refuse_binds,  # on
    "receipts": _cmd_receipts,  # on, delay
    "reset": _cmd_reset,  # clear (false): also forget records and counters
    "unbind_all": _cmd_unbind_all,  # timeout (2.0)
    "disconnect_all": _cmd_disconnect_all,
}


# --- helpers ----------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def running_smsc(**kwargs: Any) -> AsyncIterator[SimulatedSmsc]:
    """A :class:`SimulatedSmsc` serving in a task group for the body of the ``async with``."""
    smsc = SimulatedSmsc(**kwargs)
    async with anyio.create_task_group() as tg:
        smsc._owner = tg
        await tg.start(smsc.serve)
        try:
            yield smsc
        finally:
            await smsc.stop()
            tg.cancel_scope.cancel()


def _listener_port(listener: Any) -> int:
    for item in getattr(listener, "listeners", [listener]):
        address = item.extra(anyio.abc.SocketAttribute.local_address)
        if isinstance(address, tuple):
            return int(address[1])
    raise RuntimeError("listener has no TCP port")


def _peer(stream: anyio.abc.SocketStream) -> str:
    try:
        address = stream.extra(anyio.abc.SocketAttribute.remote_address)
    except anyio.TypedAttributeLookupError:
        return "unknown"
    if isinstance(address, tuple):
        return f"{address[0]}:{address[1]}"
    return str(address)


def parse_users(spec: str | None) -> dict[str, str] | None:
    """``"proxy:proxypw,other:pw2"`` -> {"proxy": "proxypw", "other": "pw2"}; None or "" -> None."""
    if not spec:
        return None
    users = {}
    for item in spec.split(","):
        system_id, sep, password = item.strip().partition(":")
        if not sep or not system_id:
            raise ValueError(f"bad user {item!r}: expected system_id:password")
        users[system_id] = password
    return users


# --- throughput self-test -----------------------------------------------------------------------


def selftest(host: str, port: int, count: int = 50_000, window: int = 64) -> float:
    """Pipeline ``count`` submit_sm over one transceiver bind with ``window`` in flight, using a
    blocking socket and the gateway codec; returns submits answered per second."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    frames = FrameBuffer()

    def read_frames() -> list[bytes]:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("simulator closed the connection")
        frames.feed(data)
        return frames.frames()

    sock.sendall(encode(BindTransceiver(sequence_number=1, system_id="bench", password="bench")))
    while not (got := read_frames()):
        pass
    if parse_header(got[0])[2] != S.ESME_ROK:
        raise RuntimeError(f"bind refused: 0x{parse_header(got[0])[2]:08x}")
    template = encode(
        SubmitSm(
            source_addr_ton=5,
            source_addr="Stopgate",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            short_message=b"Your code is 123456. Reply STOP to opt out",
        )
    )
    sent = answered = errors = 0
    started = time.perf_counter()
    while answered < count:
        burst = min(window - (sent - answered), count - sent)
        if burst > 0:
            sock.sendall(b"".join(with_sequence(template, sent + i + 2) for i in range(burst)))
            sent += burst
        for frame in read_frames():
            _, command_id, status, _ = parse_header(frame)
            if command_id == C.SUBMIT_SM_RESP:
                answered += 1
                errors += status != S.ESME_ROK
            elif command_id == C.ENQUIRE_LINK:
                sock.sendall(encode(make_response(decode(frame))))
    elapsed = time.perf_counter() - started
    sock.close()
    if errors:
        print(f"{errors} submits answered with an error status", file=sys.stderr)
    return count / elapsed


def _run_selftest(args: argparse.Namespace) -> int:
    """Start a simulator process (one core), run :func:`selftest` against it, print the rate."""
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    cmd = [sys.executable, "-m", "tools.smsc_sim", "--port", str(port), "--log-level", "warning"]
    if args.uvloop:
        cmd.append("--uvloop")
    server = subprocess.Popen(cmd)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    print("simulator did not start", file=sys.stderr)
                    return 1
                time.sleep(0.05)
        rates = []
        for _ in range(args.rounds):
            cpu_before = _cpu_seconds(server.pid)
            rate = selftest("127.0.0.1", port, args.count, args.window)
            cpu = _cpu_seconds(server.pid) - cpu_before
            per_cpu = ""
            if cpu > 0:
                per_cpu = f", simulator CPU {cpu:.2f} s = {args.count / cpu:,.0f} msg per CPU-second"
            print(f"{args.count} submit_sm, window {args.window}: {rate:,.0f} msg/s{per_cpu}")
            rates.append(rate)
    finally:
        server.terminate()
        server.wait(5)
    print(f"best: {max(rates):,.0f} msg/s")
    return 0


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc; 0.0 elsewhere)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- command line -----------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.smsc_sim", description="Simulated SMPP 3.4 SMSC")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2776)
    parser.add_argument("--control-port", type=int, default=None, help="JSON-lines control port")
    parser.add_argument("--users", default=None, help="system_id:password,... (default: accept any)")
    parser.add_argument("--receipts", action="store_true", help="send a receipt for every accepted submit")
    parser.add_argument("--receipt-delay", type=float, default=0.0, help="seconds before a receipt")
    parser.add_argument("--message-id-prefix", default="")
    parser.add_argument("--keep", type=int, default=10_000, help="received records kept (0: unlimited)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="auto", choices=["auto", "json", "console"])
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop if it is installed")
    parser.add_argument("--selftest", action="store_true", help="measure submit_sm throughput and exit")
    parser.add_argument("--count", type=int, default=50_000, help="selftest: submits per round")
    parser.add_argument("--window", type=int, default=64, help="selftest: submits in flight")
    parser.add_argument("--rounds", type=int, default=3, help="selftest: rounds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.selftest:
        return _run_selftest(args)
    from gateway.config import LoggingConfig
    from gateway.logs import configure_logging

    configure_logging(LoggingConfig(level=args.log_level, format=args.log_format))
    try:
        users = parse_users(args.users)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    smsc = SimulatedSmsc(
        args.host,
        args.port,
        users,
        receipts=args.receipts,
        receipt_delay=args.receipt_delay,
        message_id_prefix=args.message_id_prefix,
        control_port=args.control_port,
        keep=args.keep or None,
    )
    backend_options: dict[str, Any] = {}
    if args.uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop is not installed; using the default event loop", file=sys.stderr)
        else:
            backend_options["use_uvloop"] = True
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_serve_until_signalled, smsc, backend="asyncio", backend_options=backend_options)
    return 0


async def _serve_until_signalled(smsc: SimulatedSmsc) -> None:
    """Serve until SIGTERM or SIGINT, then close every connection and the listener(s)."""
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        try:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    smsc.log.info("stopping on signal", signal=signal.Signals(signum).name)
                    break
        except NotImplementedError:  # no signal receiver on this platform: serve until interrupted
            await anyio.sleep_forever()
        await smsc.stop()
        tg.cancel_scope.cancel()


if __name__ == "__main__":
    sys.exit(main())
