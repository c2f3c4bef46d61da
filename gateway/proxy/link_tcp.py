"""A link carried by an asyncio protocol on a plain TCP transport (as aioquic's asyncio adapter).

The transport calls :class:`TcpCarrier` with each chunk it reads; the chunk goes into the link's core
and up to SLICE events are handed to the link's handler in that callback, the rest in later loop turns
(a window arriving at once is relayed in parts, so the SMSC starts on the first ones while the proxy
works on the rest). Writes go straight to the transport, which sends at once or buffers in order: no
reader or writer task to wake, none of the checkpoints an anyio stream's ``send()`` takes (tools/bench:
~25% more proxied throughput, 5 µs less CPU per message than a stream). Flow control is asyncio's: past
HIGH_WATER buffered octets the transport calls ``pause_writing`` and the carrier stops reading from a
peer that does not read its answers; ``resume_writing`` (once all is written) goes on.

:func:`start_tcp_server` and :func:`open_tcp_connection` make the carriers, through the event loop's
``create_server`` and ``create_connection``. A task only waits in :meth:`TcpCarrier.serve` for what the
callbacks cannot do themselves: the end of the connection, or a session that is over.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Mapping
from typing import Any, cast

import anyio
from anyio.abc import SocketAttribute

from gateway.smpp.states import State

from . import link_io
from .link_io import CarriedLink

#: Events handed to the link per loop turn (about 4 KiB of submit_sm).
SLICE = 32
#: Received octets waiting for the next slice above which reading pauses.
BACKLOG = 256 * 1024
#: Connections the kernel may queue for accept() (capped by net.core.somaxconn), as anyio's TCP
#: listener: asyncio's default of 100 drops the SYNs of a burst of connects, which then wait for
#: TCP's retransmission (1 s, 3 s, ...).
BACKLOG_CONNECTIONS = 65536


class TcpCarrier(asyncio.Protocol, anyio.TypedAttributeProvider):
    """The protocol of one plain TCP connection, carrying one link's bytes.

    ``on_connection``, if given, is called with the carrier once the transport is there. Reading waits
    until the link serves (bytes that arrive before wait in the kernel)."""

    def __init__(self, on_connection: Callable[[TcpCarrier], object] | None = None) -> None:
        self._on_connection = on_connection
        self._loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self._link: CarriedLink | None = None
        #: True once the peer closed or the connection was lost; the error when the handler failed.
        self._ended: BaseException | bool = False
        #: Set for serve() when the connection ended or the session may be over.
        self._wakeup = asyncio.Event()
        self._serving = False
        #: Chunks read before serve() (uvloop starts reading after connection_made whatever it did).
        self._early: list[bytes] = []
        self._continuing = False
        self._reading_paused = False
        self._writing_paused = False
        self._draining = False
        self._drain_waiters: list[asyncio.Future[None]] = []

    # --- asyncio.Protocol --------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP transport: asyncio's, or uvloop's (which is not an asyncio.Transport subclass).
        self.transport = transport = cast(asyncio.Transport, transport)
        transport.set_write_buffer_limits(high=link_io.HIGH_WATER, low=0)
        self._pause()  # until serve(): the link has no handler yet (asyncio honours this at once)
        if self._on_connection is not None:
            self._on_connection(self)

    def data_received(self, data: bytes) -> None:
        link = self._link
        if not self._serving:
            self._early.append(data)
            self._reading_paused = False  # it reads, whatever we asked: ask again
            self._pause()
            return
        if link is None or link.closed or self._ended:
            return
        conn = link.conn
        conn.receive_data(data, link.clock())
        if self._continuing:
            if conn.pending_octets > BACKLOG:
                self._pause()  # the peer sends faster than it is served: let TCP hold the rest
            return
        self._handle_received()

    def eof_received(self) -> bool:
        self._end(True)
        return True  # keep the transport: the link closes it after its last writes

    def connection_lost(self, exc: Exception | None) -> None:
        self._end(True)
        self._release_drain_waiters()

    def pause_writing(self) -> None:
        # More than HIGH_WATER octets wait for the peer: read nothing more from it until they went.
        self._writing_paused = True
        self._pause()

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._draining:
            self._draining = False
            if self.transport is not None:
                self.transport.set_write_buffer_limits(high=link_io.HIGH_WATER, low=0)
        self._release_drain_waiters()
        if self._serving and not self._continuing:
            self._handle_received()  # what arrived meanwhile; resumes reading when done

    @property
    def reading_paused(self) -> bool:
        """Whether the carrier asked the transport to stop reading (congested, or not serving yet)."""
        return self._reading_paused

    # --- handing events up -------------------------------------------------------------------------

    def _handle_received(self) -> None:
        """Hand up to SLICE events to the link; what is left waits for the next loop turn, after the
        writes this slice queued."""
        self._continuing = False
        link = self._link
        if link is None or link.closed or self._ended:
            return
        if self._writing_paused:  # the last slice's answers filled the buffer: resume_writing goes on
            self._pause()
            return
        try:
            more = link.handle_events(SLICE)
        except BaseException as exc:
            self.stop(exc)
            return
        conn = link.conn
        if conn.broken is not None or conn.state is State.CLOSED or link.closed:
            self._pause()  # serve() takes it from here; received frames wait
            self._wakeup.set()
        elif self._writing_paused:
            self._pause()  # congested: resume_writing goes on with the frames left
        elif more:
            self._continuing = True
            self._loop.call_soon(self._handle_received)
        elif self._reading_paused:
            self._resume()

    def _end(self, how: BaseException | bool) -> None:
        if not self._ended:
            self._ended = how
        self._wakeup.set()

    def _pause(self) -> None:
        if not self._reading_paused and self.transport is not None:
            self._reading_paused = True
            with contextlib.suppress(Exception):  # a closing transport may refuse; it reads no more
                self.transport.pause_reading()

    def _resume(self) -> None:
        link = self._link
        if self._reading_paused and not self._ended and link is not None and not link.closed:
            self._reading_paused = False
            with contextlib.suppress(Exception):
                self.transport.resume_reading()  # type: ignore[union-attr]

    # --- Carrier ------------------------------------------------------------------------------------

    def attach(self, link: CarriedLink) -> None:
        self._link = link

    async def serve(self) -> None:
        link = self._link
        assert link is not None, "attach() first"
        self._serving = True
        if self._early:
            link.conn.receive_data(b"".join(self._early), link.clock())
            self._early.clear()
        self._handle_received()  # what came early, if anything; resumes reading
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup.clear()
                ended = self._ended
                if isinstance(ended, BaseException):
                    raise ended  # the handler failed inside a callback
                if ended:
                    link.close_reason = link.close_reason or "peer closed the connection"
                    return
                if await link.session_over() or link.closed:
                    return
        finally:
            link.closed = True
            self._pause()

    def write_soon(self) -> None:
        self._loop.call_soon(self._write)

    def _write(self) -> None:
        link = self._link
        assert link is not None
        data = link.take_output()
        if data and self.transport is not None:
            try:
                self.transport.write(data)
            except Exception as exc:  # e.g. the transport already lost its connection
                link.close_reason = link.close_reason or f"send failed: {exc}"
                link.closed = True
        self._release_drain_waiters()  # drain() looks again: written, or buffered in the transport

    def write_buffer_size(self) -> int:
        transport = self.transport
        return 0 if transport is None else transport.get_write_buffer_size()

    async def drain(self) -> None:
        link = self._link
        assert link is not None
        while not link.closed and not self._ended and (link.write_pending or self.write_buffer_size()):
            if not link.write_pending and not self._writing_paused and self.transport is not None:
                # asyncio reports a drained buffer only after a pause: with the high-water mark at
                # zero the transport pauses at once, and resume_writing() comes when all is written.
                self._draining = True
                with contextlib.suppress(Exception):  # a closing transport: connection_lost wakes us
                    self.transport.set_write_buffer_limits(high=0, low=0)
            waiter = self._loop.create_future()
            self._drain_waiters.append(waiter)
            await waiter

    def _release_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def stop(self, error: BaseException | None = None) -> None:
        self._end(error if error is not None else True)

    async def aclose(self) -> None:
        # As an anyio socket stream closes: at once, dropping what the peer did not take yet.
        if self.transport is not None:
            self.transport.abort()
        self._release_drain_waiters()

    # --- anyio.TypedAttributeProvider ------------------------------------------------------------------

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        transport = self.transport
        if transport is None:
            return {}
        return {
            SocketAttribute.raw_socket: lambda: transport.get_extra_info("socket"),
            SocketAttribute.family: lambda: transport.get_extra_info("socket").family,
            SocketAttribute.local_address: lambda: transport.get_extra_info("sockname"),
            SocketAttribute.remote_address: lambda: transport.get_extra_info("peername"),
        }


async def start_tcp_server(
    host: str, port: int, on_connection: Callable[[TcpCarrier], object], *, reuse_port: bool = False
) -> list[asyncio.Server]:
    """Listen on every address ``host`` resolves to (port 0: one free port, the same on all of them);
    each accepted connection is a :class:`TcpCarrier` handed to ``on_connection``. ``reuse_port``:
    SO_REUSEPORT, so that several worker processes share the port (the kernel spreads connections)."""
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    servers: list[asyncio.Server] = []
    try:
        for address in addresses:
            server = await loop.create_server(
                lambda: TcpCarrier(on_connection),
                address,
                port,
                backlog=BACKLOG_CONNECTIONS,
                reuse_port=reuse_port or None,
            )
            servers.append(server)
            port = port or server.sockets[0].getsockname()[1]
    except BaseException:
        for server in servers:
            server.close()
        raise
    return servers


async def open_tcp_connection(host: str, port: int) -> TcpCarrier:
    """Connect to ``host:port``; the carrier's link has still to be made and served."""
    _, carrier = await asyncio.get_running_loop().create_connection(TcpCarrier, host, port)
    return carrier
