"""From a link's core to its owner: each complete event, counted, to the owner's handler.

On the way, keep-alives are answered (§4.11: on each leg, never relayed), and responses to the proxy's
own requests (:class:`Waiter` contexts, the keep-alive marker) complete those requests instead of
reaching the handler. This runs for every PDU the proxy receives: it reads module globals and compares
types by identity (tools/bench_core counts its bytecodes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import anyio

from gateway.metrics import LinkCounts
from gateway.smpp.connection import Connection
from gateway.smpp.constants import CommandId
from gateway.smpp.events import Rejected, Relayed, Request, Response, UnexpectedResponse
from gateway.smpp.pdu import EnquireLinkResp, Pdu


class Waiter:
    """The context of one of the proxy's own requests: its response (or failure) for the task awaiting
    it, and ``callback`` run with the response before anything received after it is handled."""

    __slots__ = ("callback", "event", "result")

    def __init__(self, callback: Callable[[Pdu], object] | None = None) -> None:
        self.event = anyio.Event()
        self.result: Pdu | BaseException | None = None
        self.callback = callback

    def set(self, result: Pdu | BaseException) -> None:
        self.result = result
        self.event.set()


#: The context of the link's own enquire_link: its answer is the proof of life, nothing more.
KEEPALIVE = object()

#: A module global: an enum member read off its class costs ~70 ns a time on Python 3.11.
_ENQUIRE_LINK = CommandId.ENQUIRE_LINK
_ENQUIRE_LINK_RESP = CommandId.ENQUIRE_LINK_RESP


class DispatchingLink(Protocol):
    """What :func:`dispatch` uses of a link."""

    conn: Connection
    counts: LinkCounts | None
    log: Any


def dispatch(link: DispatchingLink, handler: Callable[[Any, Any], None], limit: int = -1) -> int:
    """Hand ``link``'s complete events to ``handler(link, event)`` (at most ``limit`` of them, -1:
    all that are complete); returns how many were taken."""
    conn, counts = link.conn, link.counts
    received = counts.received if counts is not None else None
    count = 0
    while count != limit:
        event = conn.next_event()
        if event is None:
            return count
        count += 1
        if type(event) is Relayed:
            if received is not None:  # Relayed frames carry their command_id and status as PDUs do
                if event.command_status:
                    counts.add("in", event.command_id, event.command_status, len(event.frames))  # type: ignore[union-attr]
                else:
                    received[event.command_id] += len(event.frames)  # every CommandId is there
            handler(link, event)
            continue
        if received is not None and type(event) is not Rejected:
            pdu: Pdu = event.pdu  # type: ignore[union-attr]
            if pdu.command_status:
                counts.add("in", pdu.command_id, pdu.command_status)  # type: ignore[union-attr]
            else:
                received[pdu.command_id] += 1
        if type(event) is Response:
            context = event.context
            if type(context) is Waiter:
                if context.callback is not None:
                    # Runs before any later PDU of this batch is handled (e.g. its receipt).
                    context.callback(event.pdu)
                context.set(event.pdu)
                continue
            if context is KEEPALIVE:
                continue
        elif type(event) is Request:
            if event.pdu.command_id == _ENQUIRE_LINK:
                conn.send_response(EnquireLinkResp(sequence_number=event.pdu.sequence_number))
                if counts is not None:
                    counts.sent[_ENQUIRE_LINK_RESP] += 1
                continue
        elif type(event) is UnexpectedResponse:
            link.log.info(
                "response matches no request",
                command=event.pdu.command_id.name.lower(),
                sequence=event.pdu.sequence_number,
            )
            continue
        elif type(event) is Rejected:
            link.log.info(
                "rejected pdu",
                error=str(event.error),
                status=f"0x{event.error.status:08x}",
            )
        handler(link, event)
    return count
