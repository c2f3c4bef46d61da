"""What relaying a request across the legs leaves behind: the context its copy carries on the other leg,
and what the leg that asked gets back, the answer or, when none came, an error (never silence).

A relayed request's context is usually the asking leg's sequence number (an int); a
:class:`RelayContext` when its answer passes through a policy callback or its time inside the proxy is
sampled; :class:`Parts` for a split request sent up one part at a time.
"""

from __future__ import annotations

from typing import Any

from gateway.policy.decisions import ForwardParts
from gateway.smpp.constants import RETRYABLE_STATUSES
from gateway.smpp.pdu import Pdu, response_for

from .link import Expired, Link

#: Sample one relayed submit in this many for the proxy-added latency histogram.
LATENCY_SAMPLE = 64


class RelayContext:
    """Context of a relayed request whose response passes through a policy callback, or whose
    time inside the proxy is measured (``received`` set: one request in 64 is sampled)."""

    __slots__ = ("forwarded", "on_response", "received", "sequence_number")

    def __init__(self, sequence_number: int, on_response: Any, received: float = 0.0) -> None:
        self.sequence_number = sequence_number
        self.on_response = on_response
        self.received = received
        self.forwarded = 0.0


class Parts:
    """Context of the part of a split request (:class:`ForwardParts`) that is out on the upstream."""

    __slots__ = ("context", "decision", "index", "link", "request", "responses", "retries", "sequence_number")

    def __init__(self, decision: ForwardParts, request: Pdu) -> None:
        self.decision = decision
        self.request = request
        self.sequence_number = request.sequence_number  # the ESME's: where the answer goes
        self.index = 0
        self.responses: list[Pdu] = []
        self.retries = 0  # of the part out now
        #: Pooled mode: the bind every part goes on, and the context they carry there.
        self.link: Link | None = None
        self.context: object = self

    def retry_delay(self, status: int) -> float | None:
        """How long to wait before sending the part out now again, or None to stop retrying it.

        Only a later part refused with a retryable status is retried: once an earlier part was
        accepted, answering the ESME "retry" would make it resend the whole message and the handset
        would get the accepted parts twice. The first part's refusal goes back to the ESME as is.
        """
        if not self.index or status not in RETRYABLE_STATUSES or self.retries >= PART_RETRIES:
            return None
        delay = min(PART_RETRY_MAX, PART_RETRY_FIRST * float(2**self.retries))
        self.retries += 1
        return delay


#: A later part refused with a retryable status is sent again, on the same bind, this many times at
#: most, waiting PART_RETRY_FIRST, then twice as long each time up to PART_RETRY_MAX (about 6 s in all).
PART_RETRIES = 6
PART_RETRY_FIRST = 0.2
PART_RETRY_MAX = 2.0


def relay_response(
    target: Link | None,
    pdu: Pdu,
    context: object,
    source: Link | None = None,
    proxy_latency: Any = None,
) -> None:
    """Send ``pdu``, the answer to a request relayed with ``context``, to the leg that asked."""
    if target is None or target.closed:
        return
    if type(context) is int:
        target.respond(pdu, context)
    elif type(context) is RelayContext:
        if context.on_response is not None:
            pdu = context.on_response(pdu)
        target.respond(pdu, context.sequence_number)
        if context.received and proxy_latency is not None:
            # Time inside the proxy: request in → out, plus response in → out.
            now = target.clock()
            upstream_time = source.conn.last_received - context.forwarded if source is not None else 0.0
            proxy_latency.observe(max(0.0, now - context.received - upstream_time))


def answer_unanswered(requester: Link | None, event: Expired, status: int, log: Any) -> None:
    """A relayed request got no answer: the side that asked gets an error, never silence."""
    if requester is None or requester.closed:
        return
    waiting = event.outstanding
    context = waiting.context
    sequence = context if type(context) is int else getattr(context, "sequence_number", None)
    if sequence is None:
        return
    requester.respond(response_for(waiting.command_id, sequence, status))
    log.info(
        "relayed request unanswered",
        command=waiting.command_id.name.lower(),
        closed=event.closed,
        status=f"0x{status:08x}",
    )
