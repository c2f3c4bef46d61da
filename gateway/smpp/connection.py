"""One side of an SMPP session as a state machine, with no I/O (after h11's ``Connection``).

Bytes come in with :meth:`Connection.receive_data` (with the current time: the core has no clock),
events come out of :meth:`Connection.next_event`, and everything we send is queued as bytes for
:meth:`Connection.data_to_send`. The core enforces the bind state table (§2.3, Table 2-1), answers
malformed or out-of-state requests itself with the right error response, numbers our requests, matches
responses to them, and reports requests whose response is overdue (:meth:`expire`).

A proxy relays most responses unchanged: a request sent with ``relay=True`` has its answer handed back
in a :class:`Relayed` event holding the frame, checked but not decoded, for :meth:`send_relayed`
on the other leg; answers of one kind that arrived together share one event. Anything unusual in an
answer takes the decoding path and comes as a :class:`Response`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

from .codec import decode, encode, encode_fields, parse_header
from .constants import (
    BIND_COMMANDS,
    COMMAND_ID_AT,
    HEADER_SIZE,
    MAX_SEQUENCE,
    RESPONSE_BIT,
    RESPONSE_BIT_OCTET,
    SEQUENCE_NUMBER_AT,
    BindMode,
    CommandId,
    CommandStatus,
)
from .errors import LocalProtocolError, PduTooLarge, RemoteProtocolError
from .events import Event, Rejected, Relayed, Request, Response, UnexpectedResponse
from .fields import MESSAGE_ID_SIZE
from .framing import DEFAULT_MAX_PDU_SIZE, FrameBuffer
from .pdu import BIND_CLASSES, GenericNack, Pdu, make_response, response_class
from .splice import pack_sequence, with_sequence
from .states import BOUND_STATE, Role, State, own_requests, peer_requests

C = CommandId
#: For comparisons on the per-PDU path: reading an enum member off its class costs ~70 ns on Python
#: 3.11 (the enum metaclass defeats the type attribute cache), a module global ~5.
_UNBIND: Final = C.UNBIND


@dataclass(slots=True)
class Outstanding:
    """One of our requests awaiting its response."""

    sequence_number: int
    command_id: CommandId
    deadline: float
    context: object
    #: Its answer comes as :class:`Relayed` when it is well-formed.
    relay: bool = False


class Connection:
    """The SMPP session state machine for one TCP connection."""

    def __init__(
        self,
        role: Role,
        *,
        response_timeout: float = 10.0,
        max_pdu_size: int = DEFAULT_MAX_PDU_SIZE,
    ) -> None:
        self.role = role
        self.state = State.OPEN
        # This role's rows of the state tables, looked up by state alone for every PDU.
        self._peer_requests = peer_requests(role)
        self._own_requests = own_requests(role)
        self.bind_mode: BindMode | None = None
        self.response_timeout = response_timeout
        self.last_received = 0.0
        self._frames = FrameBuffer(max_pdu_size)
        #: Frames cut from what arrived and not yet returned as events, the next one last.
        self._ready: list[bytes] = []
        self._out: list[bytes | bytearray] = []
        self._outstanding: dict[int, Outstanding] = {}
        self._next_sequence = 1
        #: Set when the byte stream can no longer be trusted; the caller should close.
        self.broken: RemoteProtocolError | None = None

    # --- receiving --------------------------------------------------------------------------------

    def receive_data(self, data: bytes, now: float) -> None:
        self.last_received = now
        self._frames.feed(data)

    @property
    def has_partial_pdu(self) -> bool:
        """Whether received octets wait for the rest of their PDU (or for :meth:`next_event`)."""
        return self._frames.pending > 0 or bool(self._ready)

    @property
    def pending_octets(self) -> int:
        """Received octets not yet returned as events."""
        return self._frames.pending + sum(map(len, self._ready))

    def events(self) -> Iterator[Event]:
        """Every event that the received bytes make complete."""
        while True:
            event = self.next_event()
            if event is None:
                return
            yield event

    def next_event(self) -> Event | None:
        """The next event, or None when more data is needed (or the stream is broken)."""
        if self.broken is not None:
            return None
        ready = self._ready
        if not ready:
            try:
                ready = self._frames.frames()
            except RemoteProtocolError as exc:
                return self._fail(exc)
            if not ready:
                return None
            ready.reverse()
            self._ready = ready
        frame = ready[-1]
        if frame[COMMAND_ID_AT] & RESPONSE_BIT_OCTET:  # a response
            relayed = self._relayed(frame)  # takes the frames it relays
            if relayed is not None:
                return relayed
        ready.pop()
        try:
            pdu = decode(frame)
        except RemoteProtocolError as exc:
            if exc.fatal:
                return self._fail(exc)
            return self._reject_or_fail_response(exc)
        command_id = pdu.command_id
        if command_id & RESPONSE_BIT:
            return self._on_response(pdu)
        allowed = self._peer_requests[self.state]
        if command_id not in allowed:
            status = (
                CommandStatus.ESME_RALYBND
                if command_id in BIND_COMMANDS and self.state is not State.OPEN
                else CommandStatus.ESME_RINVBNDSTS
            )
            error = RemoteProtocolError(
                f"{command_id.name.lower()} not allowed in state {self.state.value}",
                status=status,
                command_id=command_id,
                sequence_number=pdu.sequence_number,
            )
            if command_id.has_response:
                self._out.append(encode(make_response(pdu, status)))
            return Rejected(error)
        if command_id == _UNBIND:
            self.state = State.UNBINDING
        return Request(pdu)

    def _relayed(self, frame: bytes) -> Relayed | None:
        """The answers to relayed requests waiting at the end of ``_ready`` (``frame`` is the last),
        taken while each is one and its body is one decode() accepts without looking further: a
        message_id alone (submit_sm_resp, deliver_sm_resp, data_sm_resp without TLVs, §4.4.2,
        §4.6.2, §4.7.2), or no body with an error status; and of the first one's command_id and
        status. None when the first is not: decode it."""
        _, command_id, status, _ = parse_header(frame)
        if command_id not in _MESSAGE_ID_RESPONSES:
            return None
        outstanding, ready = self._outstanding, self._ready
        frames: list[bytes] = []
        contexts: list[object] = []
        while True:
            _, frame_id, frame_status, seq = parse_header(frame)
            waiting = outstanding.get(seq)
            length = len(frame)
            if (
                frame_id != command_id
                or frame_status != status
                or waiting is None
                or not waiting.relay
                or waiting.command_id | RESPONSE_BIT != command_id
                or (
                    frame.find(b"\x00", HEADER_SIZE, HEADER_SIZE + MESSAGE_ID_SIZE) != length - 1
                    if length > HEADER_SIZE
                    else not status
                )
            ):
                break
            del outstanding[seq]
            ready.pop()
            frames.append(frame)
            contexts.append(waiting.context)
            if not ready:
                break
            frame = ready[-1]
        return Relayed(frames, command_id, status, contexts) if frames else None

    def _answers(self, command_id: int, sequence_number: int) -> Outstanding | None:
        """The outstanding request that a response of this type and number answers, if any.

        Only the request's own response type or generic_nack answers it (§2.5): a deliver_sm_resp
        carrying the number of our submit_sm is bogus and leaves the submit_sm waiting (it expires).
        """
        waiting = self._outstanding.get(sequence_number)
        if waiting is None or command_id not in (waiting.command_id | RESPONSE_BIT, C.GENERIC_NACK):
            return None
        del self._outstanding[sequence_number]
        return waiting

    def _on_response(self, pdu: Pdu) -> Event:
        waiting = self._answers(pdu.command_id, pdu.sequence_number)
        if waiting is None:
            return UnexpectedResponse(pdu)
        request_id = waiting.command_id
        if request_id in BIND_COMMANDS and pdu.command_id == request_id | RESPONSE_BIT:
            if pdu.command_status == CommandStatus.ESME_ROK and self.role is Role.ESME:
                self.bind_mode = BindMode(request_id)
                self.state = BOUND_STATE[self.bind_mode]
        elif request_id == C.UNBIND:
            self.state = State.CLOSED
        return Response(pdu, request_id, waiting.context)

    def _reject_or_fail_response(self, exc: RemoteProtocolError) -> Event:
        command_id, seq = exc.command_id or 0, exc.sequence_number or 0
        if command_id & RESPONSE_BIT and exc.status != CommandStatus.ESME_RINVCMDID:
            # A malformed response still answers the request it names: fail that request.
            nack = GenericNack(sequence_number=seq, command_status=exc.status)
            waiting = self._answers(command_id, seq)
            if waiting is None:
                return UnexpectedResponse(nack)
            return Response(nack, waiting.command_id, waiting.context)
        if command_id in REQUESTS_WITH_RESPONSE:
            reply: Pdu = response_class(command_id)(sequence_number=seq, command_status=exc.status)
        else:
            reply = GenericNack(sequence_number=seq, command_status=exc.status)
        self._out.append(encode(reply))
        return Rejected(exc)

    def _fail(self, exc: RemoteProtocolError) -> Event:
        self.broken = exc
        self._out.append(
            encode(GenericNack(sequence_number=exc.sequence_number or 0, command_status=exc.status))
        )
        return Rejected(exc)

    # --- sending ---------------------------------------------------------------------------------

    def next_sequence(self) -> int:
        seq = self._next_sequence
        while seq in self._outstanding:
            seq = seq % MAX_SEQUENCE + 1
        self._next_sequence = seq % MAX_SEQUENCE + 1
        return seq

    def send_request(
        self,
        pdu: Pdu,
        now: float,
        context: object = None,
        frame: bytes | None = None,
        *,
        relay: bool = False,
    ) -> int:
        """Queue one of our requests under a new sequence number; returns that number.

        The PDU's own sequence_number is ignored. A PDU decoded elsewhere and unchanged is sent as its
        original bytes with only the sequence number replaced; ``frame``, when given, is sent instead
        (a rewrite of ``pdu`` done on its bytes), also with the sequence number replaced. With
        ``relay``, its answer comes as a :class:`Relayed` frame when it can (see there). Raises
        :class:`PduTooLarge` (nothing is queued) when the PDU is longer than ``max_pdu_size``, the
        limit this side enforces on receipt.
        """
        command_id = pdu.command_id
        if command_id not in self._own_requests[self.state]:
            raise LocalProtocolError(f"cannot send {command_id.name.lower()} in state {self.state.value}")
        seq = self._next_sequence
        if seq in self._outstanding:
            seq = self.next_sequence()
        else:  # next_sequence(), written out for the usual case
            self._next_sequence = seq % MAX_SEQUENCE + 1
        raw = frame or pdu.raw
        if raw:
            data: bytes | bytearray = bytearray(raw)  # with_sequence(), written out: once per request
            pack_sequence(data, SEQUENCE_NUMBER_AT, seq)
        else:
            data = encode_fields(pdu, seq)
        if len(data) > self._frames.max_pdu_size:
            raise PduTooLarge(
                f"{command_id.name.lower()} of {len(data)} octets exceeds max_pdu_size"
                f" {self._frames.max_pdu_size}"
            )
        self._out.append(data)
        if command_id in REQUESTS_WITH_RESPONSE:
            self._outstanding[seq] = Outstanding(seq, command_id, now + self.response_timeout, context, relay)
        if command_id == _UNBIND:
            self.state = State.UNBINDING
        return seq

    def send_response(self, pdu: Pdu, sequence_number: int | None = None) -> None:
        """Queue a response; ``sequence_number`` overrides the PDU's (to answer a relayed request)."""
        if not pdu.command_id & RESPONSE_BIT:
            raise LocalProtocolError(f"{pdu.command_id.name.lower()} is not a response")
        if sequence_number is None or sequence_number == pdu.sequence_number:
            self._out.append(encode(pdu))
        elif pdu.raw:
            self._out.append(with_sequence(pdu.raw, sequence_number))
        else:
            self._out.append(encode_fields(pdu, sequence_number))
        command_id = pdu.command_id
        if command_id == C.UNBIND_RESP:
            self.state = State.CLOSED
        elif (
            self.role is Role.SMSC
            and command_id ^ RESPONSE_BIT in BIND_CLASSES  # a response: the bit is set
            and pdu.command_status == CommandStatus.ESME_ROK
        ):
            self.bind_mode = BindMode(command_id ^ RESPONSE_BIT)
            self.state = BOUND_STATE[self.bind_mode]

    def send_relayed(self, relayed: Relayed) -> None:
        """Queue responses received on another connection, each under the sequence number its
        context holds: our peer's request's (none of the responses that come as :class:`Relayed`
        changes the session state)."""
        out = self._out
        for frame, sequence_number in zip(relayed.frames, relayed.contexts, strict=True):
            copy = bytearray(frame)  # with_sequence(), written out: once per relayed response
            pack_sequence(copy, SEQUENCE_NUMBER_AT, sequence_number)
            out.append(copy)

    @property
    def bytes_to_send(self) -> int:
        """Octets queued by the core and not yet taken by :meth:`data_to_send`."""
        return sum(map(len, self._out))

    def data_to_send(self) -> bytes:
        """Everything queued since the last call, ready for the socket."""
        if not self._out:
            return b""
        data = b"".join(self._out)
        self._out.clear()
        return data

    # --- timers ----------------------------------------------------------------------------------

    @property
    def outstanding(self) -> int:
        """How many of our requests await a response: the window in use."""
        return len(self._outstanding)

    def outstanding_contexts(self) -> list[object]:
        """The contexts our requests awaiting a response were sent with."""
        return [waiting.context for waiting in self._outstanding.values()]

    def next_deadline(self) -> float | None:
        for waiting in self._outstanding.values():
            return waiting.deadline
        return None

    def expire(self, now: float) -> list[Outstanding]:
        """Forget and return our requests whose response is overdue (oldest first)."""
        expired = []
        for waiting in self._outstanding.values():
            if waiting.deadline > now:
                break
            expired.append(waiting)
        for waiting in expired:
            del self._outstanding[waiting.sequence_number]
        return expired

    def forget(self, sequence_number: int) -> Outstanding | None:
        """Stop waiting for the response to one of our requests (its caller gave up on it)."""
        return self._outstanding.pop(sequence_number, None)

    def abandon_all(self) -> list[Outstanding]:
        """Forget and return every outstanding request (the link is gone)."""
        waiting = list(self._outstanding.values())
        self._outstanding.clear()
        self.state = State.CLOSED
        return waiting


#: Responses that may come as :class:`Relayed`: a message_id and nothing that changes the session.
_MESSAGE_ID_RESPONSES: Final = frozenset({C.SUBMIT_SM_RESP, C.DELIVER_SM_RESP, C.DATA_SM_RESP})

#: Requests that have a response type of their own (others are answered by generic_nack).
REQUESTS_WITH_RESPONSE: Final = frozenset(c for c in CommandId if c.has_response)
