"""A sans-IO :class:`~gateway.smpp.connection.Connection` driven over a connection: the link core.

Bytes come in → the core → each event to the owner's callback; what the core queued is written once
per event-loop turn. What carries the bytes is a :class:`~.link_io.Carrier`: on plain TCP an asyncio
protocol the transport calls with each chunk (:mod:`.link_tcp`), on TLS and wrapped streams tasks
reading and writing an anyio stream (:mod:`.link_stream`). The link keeps its timers (response
timeouts, enquire_link on idle, the incomplete-PDU and inactivity limits) armed for their next deadline
(:mod:`.link_deadlines`), and turns the end of the connection into one ``closed`` call, after failing
every request still waiting for an answer (as aioquic's ``_ping_waiters``).

Requests the proxy makes for itself (binds, keep-alives, confirmations) are awaited with
:meth:`Link.request`; their answers never reach the owner's callback. Relayed requests carry a plain
context object instead and their answers (or timeouts) go to the callback.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.abc
import structlog

from gateway.metrics import PduCounts
from gateway.smpp.connection import Connection, Outstanding
from gateway.smpp.events import Event, Relayed
from gateway.smpp.pdu import EnquireLink, Pdu, Unbind, UnbindResp, make_response
from gateway.smpp.states import State

from .link_deadlines import Due, due, next_deadline
from .link_dispatch import KEEPALIVE, Waiter, dispatch
from .link_io import HIGH_WATER, Carrier
from .link_stream import StreamCarrier
from .link_tcp import TcpCarrier


class LinkClosed(Exception):
    """The link ended before the awaited response arrived."""


class ResponseTimeout(Exception):
    """No response within the link's response timeout."""


@dataclass(slots=True)
class Expired:
    """A relayed request got no answer in time (or the link closed under it)."""

    outstanding: Outstanding
    closed: bool = False


@dataclass(slots=True)
class LinkTimers:
    """The link's time limits, in seconds (0 disables one)."""

    enquire_link_interval: float = 30.0
    inactivity_timeout: float = 120.0
    incomplete_pdu_timeout: float = 10.0


LinkHandler = Callable[["Link", "Event | Expired"], None]

_BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)


class Link:
    """One SMPP connection: the core, what carries its bytes, and its timers.

    ``stream`` is a :class:`~.link_tcp.TcpCarrier` (plain TCP) or any anyio byte stream. ``clock`` is
    the time every deadline of this link is measured in (by default ``time.monotonic``, which is the
    asyncio event loop's clock; uvloop's ``loop.time()`` is a millisecond tick cached per loop turn,
    too coarse for the proxy's latency histogram). Timers are armed on the running event loop with
    delays in that clock, so any clock counting seconds will do.
    """

    def __init__(
        self,
        stream: anyio.abc.ByteStream | TcpCarrier,
        conn: Connection,
        *,
        name: str,
        timers: LinkTimers | None = None,
        log: Any = None,
        pdu_counts: PduCounts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        #: What the bytes travel on; ``extra()`` answers anyio's SocketAttribute lookups on either kind.
        self.stream = stream
        self.conn = conn
        self.name = name
        self.timers = timers or LinkTimers()
        self.clock = clock
        self.log = log if log is not None else structlog.get_logger().bind(link=name)
        #: Where this link counts the PDUs it receives and sends, if anywhere.
        self.counts = pdu_counts.for_link(name) if pdu_counts is not None else None
        self.closed = False
        self.close_reason = ""
        self.write_pending = False
        self._handler: LinkHandler | None = None
        self._done = anyio.Event()
        self._last_sent = clock()
        self._partial_since: float | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        #: When the armed timer fires (``math.inf``: none armed).
        self._timer_at = math.inf
        #: Tasks in :meth:`wait_answered`, woken when the last outstanding request is answered.
        self._answered: list[anyio.Event] = []
        carrier: Carrier = stream if isinstance(stream, TcpCarrier) else StreamCarrier(stream)
        carrier.attach(self)
        self._carrier = carrier

    # --- running ---------------------------------------------------------------------------------

    async def run(self, handler: LinkHandler) -> None:
        """Serve the link until the connection ends or :meth:`close` is called."""
        self._handler = handler
        self._loop = asyncio.get_running_loop()
        # The idle clock starts now: a peer that has not spoken yet is not idle since time zero.
        self.conn.last_received = max(self.conn.last_received, self.clock())
        self._rearm()
        try:
            await self._carrier.serve()
        finally:
            await self._shutdown()

    def handle_events(self, limit: int = -1) -> bool:
        """Hand up to ``limit`` complete events (-1: all) to the handler, then flush; True when the
        limit was reached with received octets left (the carrier goes on with them later)."""
        conn = self.conn
        completed = self._dispatch(limit)
        more = completed == limit and conn.has_partial_pdu
        if not more:
            self._track_partial(completed, conn.last_received)
        if self._answered:
            self._wake_answered()
        self.flush()
        return more

    def _dispatch(self, limit: int = -1) -> int:
        """Hand complete events to the handler (at most ``limit`` of them); returns how many."""
        assert self._handler is not None
        return dispatch(self, self._handler, limit)

    def _track_partial(self, completed: int, received_at: float) -> None:
        """A partial PDU's clock starts when it began: trickling bytes do not extend it."""
        if not self.conn.has_partial_pdu:
            self._partial_since = None
        elif completed or self._partial_since is None:
            self._partial_since = received_at
            limit = self.timers.incomplete_pdu_timeout
            if limit and received_at + limit < self._timer_at:
                self._arm(received_at + limit)

    async def session_over(self) -> bool:
        """After the framing is lost or the session unbound: flush what is queued (bounded); True."""
        conn = self.conn
        if conn.broken is not None:
            self.close_reason = f"protocol error: {conn.broken}"
            self.log.warning("framing lost, closing", error=str(conn.broken))
        elif conn.state is State.CLOSED:
            self.close_reason = self.close_reason or "unbound"
        else:
            return False
        await self.wait_flushed(1.0)
        return True

    # --- timers ----------------------------------------------------------------------------------

    def _arm(self, at: float) -> None:
        """Have :meth:`_on_timer` run at ``at`` (in this link's clock), instead of when it was due."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = at
        if self._loop is not None and at < math.inf and not self.closed:
            self._timer = self._loop.call_later(max(0.0, at - self.clock()), self._on_timer)

    def _rearm(self) -> None:
        conn = self.conn
        now = self.clock()
        at = next_deadline(
            self.timers,
            now,
            last_received=conn.last_received,
            last_sent=self._last_sent,
            partial_since=self._partial_since,
            bound=conn.state in _BOUND,
        )
        response_deadline = conn.next_deadline()
        if response_deadline is not None and response_deadline < at:
            at = response_deadline
        self._arm(at)

    def _on_timer(self) -> None:
        self._timer, self._timer_at = None, math.inf
        if self.closed:
            return
        try:
            self._check_timers()
        except BaseException as exc:  # the handler failed: the link ends with its error, as on a read
            self._carrier.stop(exc)

    def _check_timers(self) -> None:
        conn = self.conn
        now = self.clock()
        for waiting in conn.expire(now):
            context = waiting.context
            if type(context) is Waiter:
                context.set(ResponseTimeout(f"{waiting.command_id.name.lower()} timed out"))
            elif context is KEEPALIVE:
                self._stop("enquire_link unanswered")
                return
            elif self._handler is not None:
                self._handler(self, Expired(waiting))
        if self._answered:
            self._wake_answered()
        what = due(
            self.timers,
            now,
            last_received=conn.last_received,
            last_sent=self._last_sent,
            partial_since=self._partial_since,
            bound=conn.state in _BOUND,
        )
        if what is Due.INCOMPLETE_PDU or what is Due.INACTIVE:
            self._stop(what.value)
            return
        if what is Due.ENQUIRE_LINK:
            self.send_nowait(EnquireLink(), KEEPALIVE)
        self.flush()
        self._rearm()

    def _stop(self, reason: str) -> None:
        self.close_reason = self.close_reason or reason
        self.log.info("closing link", reason=reason)
        self.closed = True
        self._carrier.stop()

    async def _shutdown(self) -> None:
        self.closed = True
        self._arm(math.inf)
        for waiting in self.conn.abandon_all():
            context = waiting.context
            if type(context) is Waiter:
                context.set(LinkClosed(self.close_reason or "link closed"))
            elif self._handler is not None and context is not KEEPALIVE:
                self._handler(self, Expired(waiting, closed=True))
        self._wake_answered()
        await self._carrier.aclose()
        if self.counts is not None:
            self.counts.close()
        self._done.set()

    # --- sending ---------------------------------------------------------------------------------

    def flush(self) -> None:
        """Have the carrier write what the core queued: one write per turn of the event loop, taking
        everything queued by then (so flushing after every PDU costs nothing extra)."""
        if not self.write_pending and not self.closed and self.conn.bytes_to_send:
            self.write_pending = True
            self._carrier.write_soon()

    def take_output(self) -> bytes:
        """For the carrier: what the core queued since the last call (nothing once closed).

        The response timer is armed here, once per write rather than per request: the first request
        of a batch has the batch's earliest deadline, and each request is written in the loop turn
        that sent it."""
        self.write_pending = False
        if self.closed:
            return b""
        conn = self.conn
        data = conn.data_to_send()
        if data:
            self._last_sent = self.clock()
            deadline = conn.next_deadline()
            if deadline is not None and deadline < self._timer_at:
                self._arm(deadline)
        return data

    @property
    def congested(self) -> bool:
        return self.conn.bytes_to_send + self._carrier.write_buffer_size() > HIGH_WATER

    async def wait_answered(self, timeout: float) -> None:
        """Wait (bounded) until every request sent on this link has its response, or the link ends."""
        if self.closed or not self.conn.outstanding:
            return
        answered = anyio.Event()
        self._answered.append(answered)
        with anyio.move_on_after(timeout):
            await answered.wait()

    def _wake_answered(self) -> None:
        if self.closed or not self.conn.outstanding:
            waiting, self._answered = self._answered, []
            for answered in waiting:
                answered.set()

    async def wait_flushed(self, timeout: float) -> None:
        """Wait (bounded) until what is queued so far has been written."""
        self.flush()
        with anyio.move_on_after(timeout):
            if not self.closed:
                await self._carrier.drain()

    def send_nowait(
        self, pdu: Pdu, context: object = None, frame: bytes | None = None, *, relay: bool = False
    ) -> int:
        """Send a request whose response goes to the handler with ``context``; returns its sequence.

        ``frame`` is the request's wire form when it is not ``pdu``'s own bytes; with ``relay`` the
        response comes as a :class:`Relayed` frame when it can (see Connection)."""
        seq = self.conn.send_request(pdu, self.clock(), context, frame, relay=relay)
        self._count_out(pdu.command_id, pdu.command_status)
        if not self.write_pending:  # flush() once per turn (this runs per relayed request)
            self.flush()
        return seq

    def respond(self, pdu: Pdu, sequence_number: int | None = None) -> None:
        self.conn.send_response(pdu, sequence_number)
        self._count_out(pdu.command_id, pdu.command_status)
        self.flush()

    def relay_responses(self, relayed: Relayed) -> None:
        """Send responses received on the other leg, unchanged but for the sequence numbers."""
        if self.closed:
            return
        self.conn.send_relayed(relayed)
        self._count_out(relayed.command_id, relayed.command_status, len(relayed.frames))
        self.flush()

    def _count_out(self, command_id: int, status: int, count: int = 1) -> None:
        counts = self.counts
        if counts is not None:
            if status:
                counts.add("out", command_id, status, count)
            else:
                counts.sent[command_id] += count

    async def request(
        self, pdu: Pdu, timeout: float | None = None, on_response: Callable[[Pdu], object] | None = None
    ) -> Pdu:
        """Send one of the proxy's own requests and wait for its response.

        ``on_response`` sees the response synchronously, before the link handles anything received
        after it. Raises ResponseTimeout, or LinkClosed when the link ends first.
        """
        if self.closed:
            raise LinkClosed(self.close_reason or "link closed")
        waiter = Waiter(on_response)
        sequence = self.send_nowait(pdu, waiter)
        try:
            with anyio.move_on_after(math.inf if timeout is None else timeout):
                await waiter.event.wait()
        finally:
            if waiter.result is None:  # timed out or cancelled: free its place in the window
                self.conn.forget(sequence)
                if self._answered:
                    self._wake_answered()
        if waiter.result is None:
            raise ResponseTimeout(f"{pdu.command_id.name.lower()} timed out")
        result = waiter.result
        if isinstance(result, BaseException):
            raise result
        return result

    async def unbind(self, timeout: float) -> None:
        """Unbind politely (bounded), then close."""
        if not self.closed and self.conn.state in _BOUND:
            try:
                await self.request(Unbind(), timeout)
            except (LinkClosed, ResponseTimeout):
                pass
            except Exception as exc:
                self.log.info("unbind failed", error=str(exc))
        await self.wait_flushed(min(timeout, 1.0))
        await self.close("unbound")

    def answer_unbind(self, request: Pdu) -> None:
        self.respond(UnbindResp(sequence_number=request.sequence_number))

    async def close(self, reason: str = "closed") -> None:
        if not self.closed:
            self.close_reason = self.close_reason or reason
            self.closed = True
        await self._carrier.aclose()

    async def wait_closed(self) -> None:
        await self._done.wait()

    def reject(self, request: Pdu, status: int) -> None:
        """Answer a request with an error status."""
        self.respond(make_response(request, status))
