"""The seam between a :class:`~gateway.proxy.link.Link` and what carries its bytes.

A link (the sans-IO core, its timers and waiters) is carried either by :class:`~.link_tcp.TcpCarrier`,
an asyncio protocol the transport calls with each chunk (plain TCP), or by
:class:`~.link_stream.StreamCarrier`, tasks reading and writing an anyio byte stream (TLS, wrapped
streams). :class:`Carrier` is what the link asks of either; :class:`CarriedLink` is what a carrier may
use of its link. Neither module imports the other.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gateway.smpp.connection import Connection

#: Above this many queued octets a link is congested: it reads no more from its peer until what it
#: wrote has been taken (a peer that does not read its answers is not sent more work to answer).
HIGH_WATER = 4 * 1024 * 1024


class CarriedLink(Protocol):
    """What a carrier uses of its link."""

    conn: Connection
    closed: bool
    close_reason: str
    log: Any
    #: Set while the core has output waiting for :meth:`take_output` (one write per loop turn).
    write_pending: bool
    clock: Callable[[], float]

    def handle_events(self, limit: int = -1) -> bool:
        """Hand up to ``limit`` received events (-1: all) to the link's handler and flush; True when
        complete events may remain (the limit was reached)."""
        ...

    def take_output(self) -> bytes:
        """What the core queued for the peer (empty once the link is closed)."""
        ...

    async def session_over(self) -> bool:
        """True (after a bounded flush) when the framing is lost or the session has unbound."""
        ...

    @property
    def congested(self) -> bool: ...

    async def wait_flushed(self, timeout: float) -> None: ...


class Carrier(Protocol):
    """What a link asks of whatever carries its bytes."""

    def attach(self, link: CarriedLink) -> None:
        """Carry ``link``'s bytes from now on (the link calls this once, when it is made)."""
        ...

    async def serve(self) -> None:
        """Feed received bytes to the link until the peer or :meth:`stop` ends the connection;
        raises what the link's handler raised, if it failed."""
        ...

    def write_soon(self) -> None:
        """Write :meth:`CarriedLink.take_output` soon: once per event-loop turn, whatever it holds."""
        ...

    def write_buffer_size(self) -> int:
        """Octets taken from the link and not yet handed to the operating system."""
        ...

    async def drain(self) -> None:
        """Return once everything the link queued so far is written (or the connection ended)."""
        ...

    def stop(self, error: BaseException | None = None) -> None:
        """End :meth:`serve` soon (with ``error`` raised from it, if given). Callable from a callback."""
        ...

    async def aclose(self) -> None:
        """Close the connection at once; what is not written yet is dropped."""
        ...
