"""When a link must next look at the time, and what is due then: plain arithmetic, the time passed in.

A link arms one timer for the earliest of its deadlines (see :meth:`Link._arm`) instead of waking on a
tick to compare clocks: the response deadline of its oldest request (``Connection.next_deadline()``),
the end of an incomplete PDU's grace, the inactivity limit, and when an idle bound session is owed an
enquire_link. Traffic only moves the last two later, so a timer armed for them may fire early; it then
finds nothing due and is armed again for the new deadline.
"""

from __future__ import annotations

import enum
import math
from typing import Protocol


class Limits(Protocol):
    """A link's time limits in seconds, 0 disabling one (:class:`~gateway.proxy.link.LinkTimers`)."""

    enquire_link_interval: float
    inactivity_timeout: float
    incomplete_pdu_timeout: float


class Due(enum.Enum):
    """What a link's clock calls for, apart from overdue responses (``Connection.expire``)."""

    NOTHING = "nothing"
    #: A partial PDU waited longer than ``incomplete_pdu_timeout``: close the link.
    INCOMPLETE_PDU = "incomplete PDU timed out"
    #: Nothing received for ``inactivity_timeout``: close the link.
    INACTIVE = "inactivity timeout"
    #: Nothing received or sent for ``enquire_link_interval`` on a bound session: send enquire_link.
    ENQUIRE_LINK = "enquire_link"


def due(
    limits: Limits,
    now: float,
    *,
    last_received: float,
    last_sent: float,
    partial_since: float | None,
    bound: bool,
) -> Due:
    """What is due at ``now`` (the gravest first)."""
    incomplete = limits.incomplete_pdu_timeout
    if incomplete and partial_since is not None and now >= partial_since + incomplete:
        return Due.INCOMPLETE_PDU
    if limits.inactivity_timeout and now >= last_received + limits.inactivity_timeout:
        return Due.INACTIVE
    interval = limits.enquire_link_interval
    if interval and bound and now >= max(last_received, last_sent) + interval:
        return Due.ENQUIRE_LINK
    return Due.NOTHING


def next_deadline(
    limits: Limits,
    now: float,
    *,
    last_received: float,
    last_sent: float,
    partial_since: float | None,
    bound: bool,
) -> float:
    """When :func:`due` may next answer something else than NOTHING (``math.inf``: never).

    An unbound session is owed no enquire_link yet; it is looked at again an interval later (it binds
    with a request and a response, which do not arm the timer)."""
    deadline = math.inf
    incomplete = limits.incomplete_pdu_timeout
    if incomplete and partial_since is not None:
        deadline = partial_since + incomplete
    if limits.inactivity_timeout:
        deadline = min(deadline, last_received + limits.inactivity_timeout)
    interval = limits.enquire_link_interval
    if interval:
        keepalive = max(last_received, last_sent) + interval
        deadline = min(deadline, keepalive if bound or keepalive > now else now + interval)
    return deadline
