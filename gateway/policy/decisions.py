"""What a policy answers for each message-carrying request, and what it may know of the session.

The proxy calls :meth:`Policy.on_submit` for every submit_sm, submit_multi and data_sm an ESME sends up,
and :meth:`Policy.on_deliver` for every deliver_sm and data_sm the SMSC sends down. Both are synchronous
so that the common case (forward unchanged) costs one call. A message split into several submits is
:class:`ForwardParts`, relayed part by part from the responses' callbacks; other work that must wait
(a durable commit) is returned as :class:`Defer` and runs in a task of its own.

Plain data, below both the policy that decides (:mod:`gateway.optout`) and the proxy that acts on the
decisions (:mod:`gateway.proxy`), so that neither depends on the other.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from gateway.smpp.constants import BindMode
from gateway.smpp.pdu import Pdu

__all__ = ["Decision", "Defer", "Forward", "ForwardParts", "Policy", "Respond", "SessionInfo"]

#: What a session says about its account (the proxy's sessions give their configured account).
AccountT_co = TypeVar("AccountT_co", covariant=True)


@dataclass(slots=True)
class Forward:
    """Relay ``pdu`` to the other leg (the same object as received: its original bytes).

    ``on_response``, if given, sees the other leg's response and returns the one to relay back.
    ``frame``, if given, is what goes out instead of ``pdu``'s bytes: ``pdu`` rewritten on the wire
    by the policy (a footer spliced in), its sequence number replaced as usual.
    ``account``, if given (an MO routed by the address texted), is the ``system_id`` whose receivers
    get it, whichever session it came from; None: the session's own ESME. ``session``, if given
    (a receipt), is the session of that account to prefer while it can receive.
    """

    pdu: Pdu
    on_response: Callable[[Pdu], Pdu] | None = None
    frame: bytes | None = None
    account: str | None = None
    session: str | None = None


@dataclass(slots=True)
class ForwardParts:
    """Relay ``parts`` up in place of the request, one at a time: each part goes once the SMSC
    accepted the one before it, so a refused or unanswered part stops the rest (a part must never
    arrive without the ones before it).

    ``on_response(index, response)``, if given, sees each part's response as it is read, before
    anything received after it (a receipt for that part, say). The ESME gets ``answer(responses)``:
    the responses so far, the last one refused or all of them accepted. A part left unanswered gets
    the ESME the usual error for an unanswered request.
    """

    parts: Sequence[Pdu]
    answer: Callable[[list[Pdu]], Pdu]
    on_response: Callable[[int, Pdu], object] | None = None


@dataclass(slots=True)
class Respond:
    """Answer the request locally with ``pdu`` (the proxy sets the sequence number); relay nothing."""

    pdu: Pdu


@dataclass(slots=True)
class Defer:
    """Decide later: the proxy awaits ``work`` in a task, then acts on its Forward or Respond."""

    work: Callable[[], Awaitable[Forward | Respond]]


Decision = Forward | ForwardParts | Respond | Defer


class SessionInfo(Protocol[AccountT_co]):
    """What a policy may know about, and do through, the session a message came from."""

    @property
    def session_id(self) -> str: ...

    @property
    def account(self) -> AccountT_co: ...

    @property
    def bind_mode(self) -> BindMode: ...

    async def transmit(self, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None) -> Pdu:
        """Send a request up to this account's SMSC through a transmit-capable bind; its response.

        ``on_response`` sees the response before anything the SMSC sent after it is handled.
        """
        ...

    async def send_to_esme(self, pdu: Pdu) -> Pdu | None:
        """Send a request down to the ESME (for example a receipt); None if it cannot receive."""
        ...


class Policy(Protocol):
    """What the proxy consults: one decision per request, in each direction."""

    def on_submit(self, session: SessionInfo[Any], pdu: Pdu) -> Decision: ...

    def on_deliver(self, session: SessionInfo[Any], pdu: Pdu) -> Decision: ...
