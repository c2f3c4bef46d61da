"""The invariants every input must keep, for :func:`~gateway.smpp.codec.decode` and for a
:class:`~gateway.smpp.connection.Connection` fed whole or in chunks."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable, Iterator
from dataclasses import replace

from gateway.smpp import codec
from gateway.smpp.codec import decode, encode, encode_fields, parse_header
from gateway.smpp.connection import Connection
from gateway.smpp.constants import HEADER_SIZE, CommandId, CommandStatus
from gateway.smpp.errors import ProtocolError
from gateway.smpp.events import Event, Rejected, Relayed, Request, Response, UnexpectedResponse
from gateway.smpp.pdu import (
    Pdu,
)
from tools.fuzz_smpp.scenarios import SCENARIOS

_LEN = struct.Struct(">I")


class InvariantError(AssertionError):
    """An outcome other than the allowed ones."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise InvariantError(message)


def _decode_slow(frame: bytes) -> Pdu:
    """decode() with the submit_sm/deliver_sm fast path switched off."""
    saved = codec._FAST
    codec._FAST = frozenset()
    try:
        return decode(frame)
    finally:
        codec._FAST = saved


def _outcome(frame: bytes, decoder: Callable[[bytes], Pdu]) -> object:
    try:
        return decoder(frame)
    except ProtocolError as exc:
        return ("error", exc.status, exc.command_id, exc.sequence_number, exc.fatal)


def check_decode(data: bytes) -> str:
    """Decode one input and check every invariant; returns an outcome label for the statistics."""
    try:
        pdu = decode(data)
    except ProtocolError as exc:
        _require(isinstance(exc.status, int) and exc.status != 0, f"error status {exc.status!r}")
        if len(data) >= HEADER_SIZE:
            length, command_id, _, seq = parse_header(data)
            _require(exc.fatal == (length != len(data)), f"fatal={exc.fatal} for length {length}")
            _require(exc.command_id == command_id, "error names another command_id")
            _require(exc.sequence_number == seq, "error names another sequence_number")
        else:
            _require(exc.fatal and exc.status == CommandStatus.ESME_RINVCMDLEN, "short frame not fatal")
        if parse_header(data + bytes(16))[1] in (CommandId.SUBMIT_SM, CommandId.DELIVER_SM):
            _require(_outcome(data, _decode_slow) == _outcome(data, decode), "fast path disagrees")
        try:
            name = CommandStatus(exc.status).name
        except ValueError:
            name = f"0x{exc.status:08x}"
        return f"error:{name}"
    _require(isinstance(pdu, Pdu), f"decode returned {type(pdu).__name__}")
    _require(encode(pdu) == data, "encode(decode(b)) != b")
    again = encode_fields(pdu)
    # An error submit/deliver/data_sm_resp is written as the header alone (§4.4.2): its message_id goes.
    written = replace(pdu, message_id="") if len(again) == HEADER_SIZE and hasattr(pdu, "message_id") else pdu  # type: ignore[call-arg]
    _require(decode(again) == written, "decode(encode_fields(p)) != p")
    if not pdu.is_response:
        _require(again == data, "encode_fields(decode(b)) != b for a request")
    if pdu.command_id in (CommandId.SUBMIT_SM, CommandId.DELIVER_SM):
        _require(_decode_slow(data) == pdu, "fast path disagrees")
    return f"pdu:{pdu.command_id.name.lower()}"


def _normal(events: list[Event]) -> list[tuple[object, ...]]:
    """The events as comparable tuples, one per frame: how answers are grouped into one
    :class:`Relayed` depends on what arrived together, so the chunking may change it."""
    out: list[tuple[object, ...]] = []
    for event in events:
        if isinstance(event, Rejected):
            error = event.error
            if error.fatal:  # how much of the header was visible depends on the chunking
                out.append(("rejected", error.status, True))
            else:
                out.append(("rejected", error.status, error.command_id, error.sequence_number, False))
        elif isinstance(event, Response):
            out.append(("response", event.pdu, event.request_id, event.context))
        elif isinstance(event, Relayed):
            _require(
                len(event.frames) == len(event.contexts) > 0, "a relayed batch without one context per frame"
            )
            for frame, context in zip(event.frames, event.contexts, strict=True):
                # Left undecoded, so it must be a frame that decode() takes (it raises otherwise).
                pdu = decode(frame)
                _require(
                    (pdu.command_id, pdu.command_status) == (event.command_id, event.command_status),
                    "a relayed frame decodes as another response than its batch's",
                )
                out.append(("relayed", frame, context))
        else:
            out.append((type(event).__name__, event.pdu))
    return out


_EVENT_TYPES = (Request, Response, Relayed, Rejected, UnexpectedResponse)


def _drain(conn: Connection, out: list[Event]) -> None:
    while True:
        event = conn.next_event()
        if event is None:
            return
        _require(isinstance(event, _EVENT_TYPES), f"next_event returned {event!r}")
        out.append(event)


def _check_output(data: bytes) -> None:
    """What the core queued by itself must be well-formed frames."""
    pos = 0
    while pos < len(data):
        _require(len(data) - pos >= HEADER_SIZE, "queued a partial header")
        (length,) = _LEN.unpack_from(data, pos)
        _require(HEADER_SIZE <= length <= len(data) - pos, f"queued a bad command_length {length}")
        pdu = decode(data[pos : pos + length])
        _require(pdu.is_response, f"core queued a request {pdu.command_id.name}")
        pos += length


def chunks(rng: random.Random, data: bytes) -> Iterator[bytes]:
    """Byte at a time or in random pieces."""
    if rng.random() < 0.5:
        for i in range(len(data)):
            yield data[i : i + 1]
        return
    pos = 0
    while pos < len(data):
        step = rng.randint(1, max(1, min(64, len(data) - pos)))
        yield data[pos : pos + step]
        pos += step


def check_connection(data: bytes, scenario: str, rng: random.Random) -> list[Event]:
    """Feed ``data`` whole and chunked to a connection in ``scenario``; compare the two runs."""
    whole = SCENARIOS[scenario]()
    events: list[Event] = []
    whole.receive_data(data, 1.0)
    _drain(whole, events)
    sent = whole.data_to_send()
    _check_output(sent)

    pieces = SCENARIOS[scenario]()
    chunked: list[Event] = []
    sent_chunked = b""
    for piece in chunks(rng, data):
        pieces.receive_data(piece, 1.0)
        _drain(pieces, chunked)
        sent_chunked += pieces.data_to_send()
    _check_output(sent_chunked)

    _require(_normal(events) == _normal(chunked), "chunking changed the events")
    _require(whole.state is pieces.state, "chunking changed the state")
    _require((whole.broken is None) == (pieces.broken is None), "chunking changed broken")
    if whole.broken is None:
        _require(sent == sent_chunked, "chunking changed the queued bytes")
        _require(whole.has_partial_pdu == pieces.has_partial_pdu, "chunking changed the partial PDU")
    return events
