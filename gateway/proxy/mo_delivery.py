"""MOs routed to an account by the address texted (:class:`~gateway.policy.decisions.Forward` with
``account``), delivered through one of that account's ESME sessions, whichever bind they came on.

The session the MO arrived on keeps the SMSC's request open and answers it with what the receiving
ESME answered, or with a temporary error when none could take it (the SMSC redelivers later).
"""

from __future__ import annotations

from gateway.policy.decisions import Forward
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import Pdu, make_response

from .link import Link, LinkClosed, ResponseTimeout
from .session_host import MoReceiver


async def forward_across(
    target: MoReceiver, decision: Forward, upstream: Link | None, upstream_sequence: int
) -> None:
    """Deliver through ``target``, then answer the SMSC on ``upstream`` (the bind it came on)."""
    response = await target.deliver_mo(decision.pdu)
    if decision.on_response is not None:
        response = decision.on_response(response)
    if upstream is not None and not upstream.closed:
        upstream.respond(response, upstream_sequence)


async def request_esme(esme: Link, pdu: Pdu, *, window: int, timeout: float) -> Pdu:
    """``pdu`` to a receiving ESME: its answer, or a temporary error when it cannot take it now
    (window full: throttled; gone or silent: redeliver later)."""
    if esme.conn.outstanding >= window:
        return make_response(pdu, CommandStatus.ESME_RTHROTTLED)
    try:
        return await esme.request(pdu, timeout)
    except (LinkClosed, ResponseTimeout):
        return make_response(pdu, CommandStatus.ESME_RX_T_APPN)
