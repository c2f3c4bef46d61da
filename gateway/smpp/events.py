"""What :meth:`gateway.smpp.connection.Connection.next_event` returns (after h11's ``_events.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from .constants import CommandId
from .errors import RemoteProtocolError
from .pdu import Pdu


@dataclass(slots=True)
class Request:
    """The peer sent a request that is valid in this state: answer it with
    :meth:`Connection.send_response`."""

    pdu: Pdu


@dataclass(slots=True)
class Response:
    """The answer to one of our requests, with the context given when it was sent."""

    pdu: Pdu
    request_id: CommandId
    context: object


@dataclass(slots=True)
class Relayed:
    """Answers to requests sent with ``relay=True``, as their frames (well-formed, not decoded):
    consecutive answers of one command_id and command_status, in the order they arrived, each with
    the context its request was sent with. Forward them with :meth:`Connection.send_relayed`, which
    takes each context as the other leg's sequence number.

    A window's answers arriving together are one event (one call up the stack instead of one per
    answer: tools/bench_core measures the difference)."""

    frames: list[bytes]
    command_id: int
    command_status: int
    contexts: list[object]


@dataclass(slots=True)
class Rejected:
    """The peer sent something invalid; the core already queued the error response."""

    error: RemoteProtocolError


@dataclass(slots=True)
class UnexpectedResponse:
    """A response matching none of our outstanding requests (late, after a timeout, or bogus)."""

    pdu: Pdu


Event = Request | Response | Relayed | Rejected | UnexpectedResponse
