"""The simulated SMSC on TCP: listens (optionally over TLS), turns each accepted connection into a
:class:`gateway.proxy.link.Link` whose events go to :class:`~tools.smsc_sim.core.SmscCore`, sends MO
messages to bound ESMEs, unbinds or drops sessions on request, and serves the JSON control port."""

from __future__ import annotations

import contextlib
import functools
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Iterable
from typing import Any, Final

import anyio
import anyio.abc
from anyio.streams.tls import TLSListener

from gateway.proxy.link import Link, LinkTimers
from gateway.smpp.connection import Connection
from gateway.smpp.constants import Tag
from gateway.smpp.fields import Tlv
from gateway.smpp.pdu import DataSm, DeliverSm, Pdu
from gateway.smpp.states import Role
from gateway.text.encoding import encode_text
from tools.smsc_sim.control import serve_control_client
from tools.smsc_sim.core import SmscCore
from tools.smsc_sim.faults import DroppingStream
from tools.smsc_sim.model import NoReceiverError, Session

__all__ = ["SimulatedSmsc", "running_smsc"]

#: SO_LINGER on, 0 seconds: close() sends a TCP reset (what a crashed SMSC looks like).
_LINGER_RST: Final = struct.pack("ii", 1, 0)


class SimulatedSmsc(SmscCore):
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
        """``port`` 0 picks a free port (read :attr:`port` once serving). ``control_port`` (0 picks a
        free port) opens the JSON control port. The rest is :class:`SmscCore`'s."""
        super().__init__(users, receipts, receipt_delay, message_id_prefix, keep=keep, log=log)
        self.host = host
        self.port = port
        self.control_port = control_port
        #: Serve SMPP over TLS with this (server-side) context; the control port stays plain.
        self.ssl_context = ssl_context
        self._next_session = 0
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
                    tg.start_soon(self._receipt_queue.run)
                    tg.start_soon(listener.serve, self._handle_connection, tg)
                    if control is not None:
                        tg.start_soon(control.serve, functools.partial(serve_control_client, self), tg)
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
            DroppingStream(stream, self.injected),
            conn,
            name=f"smsc-sim:{self._next_session}",
            timers=LinkTimers(enquire_link_interval=0, inactivity_timeout=0, incomplete_pdu_timeout=10.0),
            log=self.log.bind(session=self._next_session, peer=peer),
        )
        session = Session(self._next_session, peer, link, connected_at=anyio.current_time())
        self.sessions[session.id] = session
        self.counters["connections"] += 1
        try:
            await link.run(functools.partial(self.on_event, session))
        finally:
            self.sessions.pop(session.id, None)
            if session.mode is not None:
                link.log.info("session closed", system_id=session.system_id, reason=link.close_reason)
            self._notify()

    def stats(self) -> dict[str, Any]:
        """Everything the control port's ``stats`` reports."""
        return {
            "port": self.port,
            "counters": dict(self.counters),
            "submits": self._submits,
            "received": len(self.received),
            "sessions": [s.summary() for s in self.sessions.values()],
            "faults": self.faults,
            "receipts": self.receipts,
            "receipts_pending": self._receipt_queue.pending,
            "receipts_parked": self._receipt_queue.parked_count,
        }

    # --- sessions ended on request ------------------------------------------------------------------

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
        return self._turns.pick(candidates)

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


def _message_octets(text: str | None, data: bytes | None, data_coding: int) -> bytes:
    if (text is None) == (data is None):
        raise ValueError("give exactly one of text and short_message/payload")
    if text is not None:
        return encode_text(text, data_coding)
    assert data is not None
    return bytes(data)


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
