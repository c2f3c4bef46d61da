"""A raw SMPP peer for tests and tools: Stopgate's codec on a socket, with no session rules.

Unlike :class:`gateway.proxy.link.Link`, a peer sends whatever it is told (malformed bytes, requests
out of bind order, a byte at a time) and records everything it receives, so a test can check the far
side's exact answers. It still answers the routine requests itself (enquire_link, unbind, and
deliver_sm / data_sm with :attr:`SmppPeer.deliver_status`; binds too when ``accept_binds``).

Either end::

    async with connect_peer(port) as esme:                      # dial the proxy as an ESME
        await esme.bind("acme", "acmepw")
        resp = await esme.request(SubmitSm(destination_addr="447700900401", short_message=b"hi"))

    async with running_listener(accept_binds=True) as smsc:     # a fake SMSC the proxy dials
        peer = await smsc.next_peer()
        await peer.send(b"...malformed bytes...")

Every frame received must decode: anything else is recorded in :attr:`SmppPeer.errors` (the far side
sent garbage), which tests assert is empty.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import anyio.abc

from gateway.smpp.codec import decode, encode_fields
from gateway.smpp.constants import RESPONSE_BIT, BindMode, CommandId, CommandStatus
from gateway.smpp.errors import ProtocolError
from gateway.smpp.fields import Tlv
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import (
    BIND_CLASSES,
    EnquireLinkResp,
    Pdu,
    UnbindResp,
    make_response,
)

__all__ = ["PeerClosed", "PeerListener", "SmppPeer", "connect_peer", "running_listener"]

_LINGER_RST = struct.pack("ii", 1, 0)
_DELIVERS = frozenset({CommandId.DELIVER_SM, CommandId.DATA_SM})


class PeerClosed(Exception):
    """The connection ended before the awaited PDU arrived."""


class _Waiter:
    __slots__ = ("event", "pdu")

    def __init__(self) -> None:
        self.event = anyio.Event()
        self.pdu: Pdu | None = None


class SmppPeer:
    """One raw SMPP connection. Run :meth:`run` in a task (the helpers below do)."""

    def __init__(
        self,
        stream: anyio.abc.ByteStream,
        *,
        deliver_status: int | None = CommandStatus.ESME_ROK,
        accept_binds: bool = False,
        answer_unbind: bool = True,
        on_request: Callable[[SmppPeer, Pdu], bool] | None = None,
    ) -> None:
        self.stream = stream
        #: Status for the deliver_sm / data_sm this peer receives (None: leave them unanswered).
        self.deliver_status = deliver_status
        self.accept_binds = accept_binds
        self.answer_unbind = answer_unbind
        #: Called for every request first; returning True means "handled, no automatic answer".
        self.on_request = on_request
        #: Every request received, in order.
        self.requests: list[Pdu] = []
        #: Responses that matched no request of ours (late ones, generic_nack for raw bytes...).
        self.unsolicited: list[Pdu] = []
        #: Frames that did not decode, as (hex, error): the far side sent garbage.
        self.errors: list[tuple[str, str]] = []
        self.closed = False
        self.unbound = False
        self._frames = FrameBuffer(0x7FFFFFFF)
        self._waiters: dict[int, _Waiter] = {}
        self._next_seq = 0
        self._send_lock = anyio.Lock()
        self._closed = anyio.Event()
        self._changed = anyio.Event()

    # --- receiving --------------------------------------------------------------------------------

    async def run(self) -> None:
        """Read until the connection ends."""
        try:
            while True:
                try:
                    data = await self.stream.receive()
                except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                    return
                except ssl.SSLError:
                    return
                self._frames.feed(data)
                while True:
                    try:
                        frames = self._frames.frames()  # those before a bad length; then it raises
                    except ProtocolError as exc:
                        self.errors.append(("", str(exc)))
                        return
                    if not frames:
                        break
                    for frame in frames:
                        try:
                            pdu = decode(frame)
                        except ProtocolError as exc:
                            self.errors.append((frame.hex(), str(exc)))
                            continue
                        with contextlib.suppress(PeerClosed):  # an automatic answer to a closing peer
                            await self._on_pdu(pdu)
                self._notify()
        finally:
            self.closed = True
            self._closed.set()
            for waiter in self._waiters.values():
                waiter.event.set()
            self._notify()

    async def _on_pdu(self, pdu: Pdu) -> None:
        command_id = pdu.command_id
        if command_id & RESPONSE_BIT:
            waiter = self._waiters.pop(pdu.sequence_number, None)
            if waiter is None:
                self.unsolicited.append(pdu)
            else:
                waiter.pdu = pdu
                waiter.event.set()
            return
        self.requests.append(pdu)
        if self.on_request is not None and self.on_request(self, pdu):
            return
        if command_id == CommandId.ENQUIRE_LINK:
            await self.send(EnquireLinkResp(sequence_number=pdu.sequence_number))
        elif command_id == CommandId.UNBIND:
            self.unbound = True
            if self.answer_unbind:
                await self.send(UnbindResp(sequence_number=pdu.sequence_number))
        elif command_id in _DELIVERS:
            if self.deliver_status is not None:
                await self.send(make_response(pdu, self.deliver_status))
        elif command_id in BIND_CLASSES and self.accept_binds:
            await self.send(make_response(pdu, system_id="rawsmsc"))

    def _notify(self) -> None:
        self._changed.set()
        self._changed = anyio.Event()

    # --- sending ----------------------------------------------------------------------------------

    def next_sequence(self) -> int:
        self._next_seq = self._next_seq % 0x7FFFFFFF + 1
        return self._next_seq

    async def send(self, item: Pdu | bytes) -> None:
        """Send a PDU (as it is, sequence number included) or raw bytes."""
        data = item if isinstance(item, bytes | bytearray) else encode_fields(item)
        async with self._send_lock:
            try:
                await self.stream.send(bytes(data))
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
                raise PeerClosed(str(exc) or "connection closed") from exc

    async def exchange(self, data: bytes | Pdu, sequence_number: int, timeout: float = 5.0) -> Pdu:
        """Send ``data`` and wait for the response carrying ``sequence_number``."""
        waiter = self._waiters[sequence_number] = _Waiter()
        try:
            await self.send(data)
            with anyio.fail_after(timeout):
                if not self.closed:  # else the reader is gone and nothing will wake this waiter
                    await waiter.event.wait()
        finally:
            self._waiters.pop(sequence_number, None)
        if waiter.pdu is None:
            raise PeerClosed("connection closed before the response")
        return waiter.pdu

    async def request(self, pdu: Pdu, timeout: float = 5.0) -> Pdu:
        """Send ``pdu`` under a new sequence number and return its response (or generic_nack)."""
        seq = self.next_sequence()
        return await self.exchange(encode_fields(pdu, seq), seq, timeout)

    async def send_request(self, pdu: Pdu) -> tuple[int, _Waiter]:
        """Send without waiting; ``await peer.response(waiter)`` later."""
        seq = self.next_sequence()
        waiter = self._waiters[seq] = _Waiter()
        await self.send(encode_fields(pdu, seq))
        return seq, waiter

    async def response(self, waiter: _Waiter, timeout: float = 5.0) -> Pdu:
        with anyio.fail_after(timeout):
            if not self.closed:
                await waiter.event.wait()
        if waiter.pdu is None:
            raise PeerClosed("connection closed before the response")
        return waiter.pdu

    async def bind(
        self,
        system_id: str,
        password: str,
        mode: BindMode = BindMode.TRANSCEIVER,
        *,
        timeout: float = 5.0,
        check: bool = True,
    ) -> Pdu:
        """Bind; with ``check`` a refusal raises AssertionError naming the status."""
        resp = await self.request(BIND_CLASSES[mode](system_id=system_id, password=password), timeout)
        if check and resp.command_status != CommandStatus.ESME_ROK:
            raise AssertionError(f"bind refused with 0x{resp.command_status:08x}")
        return resp

    async def unbind(self, timeout: float = 5.0) -> Pdu:
        from gateway.smpp.pdu import Unbind

        return await self.request(Unbind(), timeout)

    # --- waiting ----------------------------------------------------------------------------------

    async def wait_until(self, predicate: Callable[[], object], timeout: float = 5.0) -> None:
        with anyio.fail_after(timeout):
            while not predicate():
                await self._changed.wait()

    async def wait_closed(self, timeout: float = 5.0) -> None:
        """Wait until the far side closes the connection (raises TimeoutError)."""
        with anyio.fail_after(timeout):
            await self._closed.wait()

    async def next_request(self, command_id: int, timeout: float = 5.0, start: int = 0) -> Pdu:
        """The first request of this command received (at or after index ``start``)."""

        def found() -> Pdu | None:
            for pdu in self.requests[start:]:
                if pdu.command_id == command_id:
                    return pdu
            return None

        await self.wait_until(lambda: found() is not None or self.closed, timeout)
        pdu = found()
        if pdu is None:
            raise PeerClosed(f"closed before a {CommandId(command_id).name.lower()} arrived")
        return pdu

    async def next_unsolicited(self, timeout: float = 5.0) -> Pdu:
        await self.wait_until(lambda: self.unsolicited or self.closed, timeout)
        if not self.unsolicited:
            raise PeerClosed("closed before a response arrived")
        return self.unsolicited.pop(0)

    # --- closing ----------------------------------------------------------------------------------

    async def aclose(self) -> None:
        with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
            await self.stream.aclose()

    async def abort(self) -> None:
        """Drop the connection with a TCP reset, as a crashed client would."""
        with contextlib.suppress(Exception):
            raw = self.stream.extra(anyio.abc.SocketAttribute.raw_socket)
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
        await self.aclose()


@contextlib.asynccontextmanager
async def connect_peer(
    port: int,
    host: str = "127.0.0.1",
    *,
    ssl_context: ssl.SSLContext | None = None,
    local_host: str | None = None,
    **options: Any,
) -> AsyncIterator[SmppPeer]:
    """A connected :class:`SmppPeer` whose reader runs for the body of the ``async with``."""
    stream: anyio.abc.ByteStream
    if ssl_context is not None:
        stream = await anyio.connect_tcp(
            host, port, ssl_context=ssl_context, tls_standard_compatible=False, local_host=local_host
        )
    else:
        stream = await anyio.connect_tcp(host, port, local_host=local_host)
    peer = SmppPeer(stream, **options)
    async with anyio.create_task_group() as tg:
        tg.start_soon(peer.run)
        try:
            yield peer
        finally:
            await peer.aclose()
            tg.cancel_scope.cancel()


class PeerListener:
    """A fake SMSC: every connection the proxy makes becomes a :class:`SmppPeer` for the test."""

    def __init__(self, host: str = "127.0.0.1", **options: Any) -> None:
        self.host = host
        self.port = 0
        self.options = options
        self.peers: list[SmppPeer] = []
        self._taken = 0
        self._changed = anyio.Event()

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=0)
        self.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
        async with listener, anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, self._handle)
            task_status.started()

    async def _handle(self, stream: anyio.abc.ByteStream) -> None:
        peer = SmppPeer(stream, **self.options)
        self.peers.append(peer)
        self._changed.set()
        self._changed = anyio.Event()
        try:
            await peer.run()
        finally:
            await peer.aclose()

    async def next_peer(self, timeout: float = 5.0) -> SmppPeer:
        """The next connection not yet returned, in arrival order."""
        with anyio.fail_after(timeout):
            while len(self.peers) <= self._taken:
                await self._changed.wait()
        self._taken += 1
        return self.peers[self._taken - 1]


@contextlib.asynccontextmanager
async def running_listener(**options: Any) -> AsyncIterator[PeerListener]:
    listener = PeerListener(**options)
    async with anyio.create_task_group() as tg:
        await tg.start(listener.serve)
        try:
            yield listener
        finally:
            tg.cancel_scope.cancel()


def bind_resp_ok(bind: Pdu) -> Pdu:
    """A successful bind response for ``bind`` (what a fake SMSC answers)."""
    return make_response(bind, system_id="rawsmsc", tlvs=(Tlv(0x0210, b"\x34"),))
