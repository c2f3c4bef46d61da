"""Fuzz the sans-IO SMPP core (after h11's ``fuzz/afl-server.py``).

Invariant: any byte string given to :func:`gateway.smpp.codec.decode` either parses into a PDU or raises
:class:`ProtocolError`, and any byte string fed to a :class:`Connection` (in either role, in every session
state, whole or in chunks) only produces events and queued bytes; the core never raises. On top of that
the checks below hold for every input:

* a decoded PDU re-encodes to the same frame (``encode``), decodes again to an equal PDU from its fields
  (``encode_fields``), and a decoded *request* re-encodes from its fields byte for byte;
* the submit_sm/deliver_sm fast path gives the same result as the table-driven decoder;
* a ProtocolError for a frame whose header is readable names that header's command_id and sequence
  number, and is fatal exactly when command_length disagrees with the frame;
* every byte the core queues by itself (error responses, generic_nack) is a valid frame;
* feeding the same bytes whole or in chunks gives the same events and the same final state.

Inputs are mutations of valid PDUs of every command (bit flips, interesting bytes, truncations, length
field corruption, command_id swaps, inserted and deleted bytes, random TLVs, splices) plus random bytes.

    python -m tools.fuzz_smpp --count 100000 --seed 1
    python -m tools.fuzz_smpp --atheris            # coverage-guided, when atheris is installed

Exit status 0 when every input behaved; 1 after printing the first crashing input as hex.
"""

from __future__ import annotations

import argparse
import random
import struct
import sys
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from gateway.smpp import codec
from gateway.smpp.codec import decode, encode, encode_fields, parse_header
from gateway.smpp.connection import Connection
from gateway.smpp.constants import HEADER_SIZE, RESPONSE_BIT, CommandId, CommandStatus, Tag
from gateway.smpp.errors import ProtocolError
from gateway.smpp.events import Event, Rejected, Relayed, Request, Response, UnexpectedResponse
from gateway.smpp.fields import Dest, Tlv, UnsuccessSme
from gateway.smpp.pdu import (
    AlertNotification,
    Bind,
    BindReceiver,
    BindReceiverResp,
    BindResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.states import Role, State

_LEN = struct.Struct(">I")
_TLV = struct.Struct(">HH")


# --- seed corpus -------------------------------------------------------------------------------


def seed_pdus() -> list[Pdu]:
    """Valid PDUs of every command, with sequence numbers 1-3 so responses meet outstanding requests."""
    receipt = (Tlv(Tag.RECEIPTED_MESSAGE_ID, b"abc123\x00"), Tlv(Tag.MESSAGE_STATE, b"\x02"))
    sar = (
        Tlv(Tag.SAR_MSG_REF_NUM, b"\x01\xf4"),
        Tlv(Tag.SAR_TOTAL_SEGMENTS, b"\x02"),
        Tlv(Tag.SAR_SEGMENT_SEQNUM, b"\x01"),
    )
    text: dict[str, Any] = {"source_addr": "Stopgate", "destination_addr": "447700900123"}
    return [
        BindTransmitter(sequence_number=1, system_id="esme", password="pw", system_type="VMS"),
        BindReceiver(sequence_number=1, system_id="rx", password="secret", address_range="^447"),
        BindTransceiver(sequence_number=1, system_id="trx", addr_ton=1, addr_npi=1),
        BindTransmitterResp(sequence_number=1, system_id="SMSC", tlvs=(Tlv(Tag.SC_INTERFACE_VERSION, b"4"),)),
        BindReceiverResp(sequence_number=1, system_id="SMSC"),
        BindTransceiverResp(sequence_number=1, system_id="SMSC"),
        BindTransmitterResp(sequence_number=1, command_status=CommandStatus.ESME_RINVPASWD),
        Outbind(sequence_number=1, system_id="smsc", password="pw"),
        Unbind(sequence_number=2),
        UnbindResp(sequence_number=2),
        GenericNack(sequence_number=3, command_status=CommandStatus.ESME_RINVCMDID),
        EnquireLink(sequence_number=2),
        EnquireLinkResp(sequence_number=2),
        SubmitSm(sequence_number=3, short_message=b"hello", registered_delivery=1, **text),
        SubmitSm(
            sequence_number=3,
            esm_class=0x40,
            data_coding=8,
            short_message=b"\x05\x00\x03\xa7\x02\x01\x00S\x00T\x00O\x00P",
            tlvs=(Tlv(0x1400, b"vendor"), Tlv(0x4000, b"")),
            **text,
        ),
        SubmitSm(sequence_number=3, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"long text " * 30), *sar), **text),
        SubmitSmResp(sequence_number=3, message_id="abc123"),
        SubmitSmResp(sequence_number=3, command_status=CommandStatus.ESME_RSUBMITFAIL),
        DeliverSm(sequence_number=2, esm_class=0x04, tlvs=receipt, **text),
        DeliverSm(sequence_number=2, short_message=b"STOP", **text),
        DeliverSmResp(sequence_number=2),
        SubmitMulti(
            sequence_number=3,
            source_addr="12345",
            dests=(Dest(1, 1, 1, "447700900001"), Dest(2, 0, 0, "friends")),
            short_message=b"hi",
        ),
        SubmitMultiResp(
            sequence_number=3, message_id="m1", unsuccess_smes=(UnsuccessSme(1, 1, "4477", 0x0B),)
        ),
        DataSm(sequence_number=3, data_coding=8, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"\x00H\x00i"),), **text),
        DataSmResp(sequence_number=3, message_id="d1", tlvs=(Tlv(Tag.DELIVERY_FAILURE_REASON, b"\x02"),)),
        QuerySm(sequence_number=3, message_id="abc123", source_addr="447700900123"),
        QuerySmResp(sequence_number=3, message_id="abc123", final_date="250411120000004+", message_state=2),
        CancelSm(sequence_number=3, message_id="abc123", source_addr="447700900123"),
        CancelSmResp(sequence_number=3),
        ReplaceSm(
            sequence_number=3, message_id="abc123", short_message=b"new", validity_period="000001000000000R"
        ),
        ReplaceSmResp(sequence_number=3),
        AlertNotification(sequence_number=2, source_addr="447700900123", esme_addr="12345"),
    ]


SEEDS: list[bytes] = [encode_fields(p) for p in seed_pdus()]
COMMAND_IDS: list[int] = [int(c) for c in CommandId]
INTERESTING_U8 = (0x00, 0x01, 0x7F, 0x80, 0xFE, 0xFF)
INTERESTING_U32 = (0, 1, 15, 16, 17, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 65536, 65537)


# --- mutations ---------------------------------------------------------------------------------


def fix_length(data: bytes) -> bytes:
    """Set command_length to the real length (when there is room for it)."""
    if len(data) < 4:
        return data
    return _LEN.pack(len(data)) + data[4:]


def _bit_flips(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        i = rng.randrange(len(buf))
        buf[i] ^= 1 << rng.randrange(8)
    return bytes(buf)


def _interesting_bytes(rng: random.Random, data: bytes) -> bytes:
    if not data:
        return data
    buf = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        buf[rng.randrange(len(buf))] = rng.choice(INTERESTING_U8)
    return bytes(buf)


def _truncate(rng: random.Random, data: bytes) -> bytes:
    return data[: rng.randint(0, len(data))]


def _truncate_body(rng: random.Random, data: bytes) -> bytes:
    return fix_length(data[: rng.randint(min(HEADER_SIZE, len(data)), len(data))])


def _corrupt_length(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 4:
        return data
    value = rng.choice(
        (*INTERESTING_U32, len(data) - 1, len(data) + 1, len(data) + rng.randint(2, 300), rng.getrandbits(32))
    )
    return _LEN.pack(max(0, value) & 0xFFFFFFFF) + data[4:]


def _swap_command(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 8:
        return data
    choice = rng.random()
    if choice < 0.7:
        command_id = rng.choice(COMMAND_IDS)
    elif choice < 0.85:
        command_id = parse_header(data + bytes(16))[1] ^ RESPONSE_BIT
    else:
        command_id = rng.getrandbits(32)
    return data[:4] + _LEN.pack(command_id) + data[8:]


def _random_status_or_sequence(rng: random.Random, data: bytes) -> bytes:
    if len(data) < 16:
        return data
    offset = rng.choice((8, 12))
    return data[:offset] + _LEN.pack(rng.choice((*INTERESTING_U32, rng.getrandbits(32)))) + data[offset + 4 :]


def _insert(rng: random.Random, data: bytes) -> bytes:
    i = rng.randint(min(HEADER_SIZE, len(data)), len(data))
    chunk = rng.choice((b"\x00", b"\xff", rng.randbytes(rng.randint(1, 40))))
    return fix_length(data[:i] + chunk + data[i:])


def _delete(rng: random.Random, data: bytes) -> bytes:
    if len(data) <= HEADER_SIZE:
        return data
    i = rng.randrange(HEADER_SIZE, len(data))
    j = min(len(data), i + rng.randint(1, 20))
    return fix_length(data[:i] + data[j:])


def _strip_nuls(rng: random.Random, data: bytes) -> bytes:
    return fix_length(data[:HEADER_SIZE] + data[HEADER_SIZE:].replace(b"\x00", b"A", rng.randint(1, 3)))


def _random_tlvs(rng: random.Random, data: bytes) -> bytes:
    parts = [data]
    for _ in range(rng.randint(1, 4)):
        tag = rng.choice((rng.getrandbits(16), int(rng.choice(list(Tag))), 0x1400, 0x4000))
        value = rng.randbytes(rng.choice((0, 1, 2, 3, 4, rng.randint(0, 300))))
        length = len(value)
        roll = rng.random()
        if roll < 0.15:
            length = rng.choice((length + 1, length + 100, 0xFFFF))
        elif roll < 0.2:
            parts.append(_TLV.pack(tag, length)[: rng.randint(0, 3)])  # truncated TLV header
            continue
        parts.append(_TLV.pack(tag, length) + value)
    return fix_length(b"".join(parts))


def _splice(rng: random.Random, data: bytes) -> bytes:
    other = rng.choice(SEEDS)
    return fix_length(data[: rng.randint(0, len(data))] + other[rng.randint(0, len(other)) :])


def _long_cstring(rng: random.Random, data: bytes) -> bytes:
    """Grow the first C-string of the body past any limit."""
    if len(data) <= HEADER_SIZE:
        return data
    i = rng.randrange(HEADER_SIZE, len(data))
    return fix_length(data[:i] + b"9" * rng.choice((15, 16, 20, 21, 64, 65, 200)) + data[i:])


MUTATORS: tuple[Callable[[random.Random, bytes], bytes], ...] = (
    _bit_flips,
    _interesting_bytes,
    _truncate,
    _truncate_body,
    _corrupt_length,
    _swap_command,
    _random_status_or_sequence,
    _insert,
    _delete,
    _strip_nuls,
    _random_tlvs,
    _splice,
    _long_cstring,
)


def generate(rng: random.Random) -> tuple[bytes, bytes]:
    """One fuzz input as (prefix, frame): mostly a mutated seed, sometimes random bytes or a random body.

    ``frame`` goes to decode(); ``prefix + frame`` to a connection. The prefix (one valid PDU, one time in
    ten) moves the session on before the mutated frame arrives.
    """
    prefix = rng.choice(SEEDS) if rng.random() < 0.1 else b""
    roll = rng.random()
    if roll < 0.08:
        return prefix, rng.randbytes(rng.randint(0, 300))
    if roll < 0.16:
        header = struct.pack(">IIII", 0, rng.choice(COMMAND_IDS), rng.choice((0, rng.getrandbits(32))), 1)
        return prefix, fix_length(header + rng.randbytes(rng.randint(0, 120)))
    data = rng.choice(SEEDS)
    for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
        data = rng.choice(MUTATORS)(rng, data)
    if rng.random() < 0.5:
        data = fix_length(data)  # get past the length check to the body most of the time
    return prefix, data


# --- connection scenarios ----------------------------------------------------------------------


def _frame(pdu: Pdu) -> bytes:
    return encode_fields(pdu)


_BIND_RESP: dict[type[Bind], type[BindResp]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


def _bound(role: Role, bind: type[Bind]) -> Connection:
    conn = Connection(role)
    if role is Role.ESME:
        seq = conn.send_request(bind(system_id="esme"), 0.0)
        conn.receive_data(_frame(_BIND_RESP[bind](sequence_number=seq)), 0.0)
        events = list(conn.events())
    else:
        conn.receive_data(_frame(bind(sequence_number=1, system_id="esme")), 0.0)
        events = list(conn.events())
        conn.send_response(_BIND_RESP[bind](sequence_number=1, system_id="SMSC"))
    assert len(events) == 1 and conn.state.name.startswith("BOUND"), (events, conn.state)
    conn.data_to_send()
    return conn


def _with_outstanding(conn: Connection) -> Connection:
    """Leave requests waiting (sequence 2, 3) so that fuzzed responses can meet them."""
    conn.send_request(EnquireLink(), 0.0)
    if conn.role is Role.ESME and conn.state in (State.BOUND_TX, State.BOUND_TRX):
        conn.send_request(SubmitSm(destination_addr="447700900123", short_message=b"x"), 0.0, relay=True)
    elif conn.role is Role.SMSC and conn.state in (State.BOUND_RX, State.BOUND_TRX):
        conn.send_request(DeliverSm(source_addr="447700900123", short_message=b"x"), 0.0, relay=True)
    conn.data_to_send()
    return conn


def _esme_bind_pending() -> Connection:
    conn = Connection(Role.ESME)
    conn.send_request(BindTransceiver(system_id="esme"), 0.0)
    conn.data_to_send()
    return conn


def _unbinding_ours(role: Role) -> Connection:
    conn = _with_outstanding(_bound(role, BindTransceiver))
    conn.send_request(Unbind(), 0.0)
    conn.data_to_send()
    return conn


def _unbinding_peer(role: Role) -> Connection:
    conn = _bound(role, BindTransceiver)
    conn.receive_data(_frame(Unbind(sequence_number=7)), 0.0)
    events = list(conn.events())
    assert conn.state is State.UNBINDING, events
    return conn


def _closed(role: Role) -> Connection:
    conn = _unbinding_peer(role)
    conn.send_response(UnbindResp(sequence_number=7))
    conn.data_to_send()
    assert conn.state is State.CLOSED
    return conn


SCENARIOS: dict[str, Callable[[], Connection]] = {
    "esme/open": lambda: Connection(Role.ESME),
    "esme/bind-pending": _esme_bind_pending,
    "esme/bound_tx": lambda: _with_outstanding(_bound(Role.ESME, BindTransmitter)),
    "esme/bound_rx": lambda: _with_outstanding(_bound(Role.ESME, BindReceiver)),
    "esme/bound_trx": lambda: _with_outstanding(_bound(Role.ESME, BindTransceiver)),
    "esme/unbinding-ours": lambda: _unbinding_ours(Role.ESME),
    "esme/unbinding-peer": lambda: _unbinding_peer(Role.ESME),
    "esme/closed": lambda: _closed(Role.ESME),
    "smsc/open": lambda: Connection(Role.SMSC),
    "smsc/bound_tx": lambda: _with_outstanding(_bound(Role.SMSC, BindTransmitter)),
    "smsc/bound_rx": lambda: _with_outstanding(_bound(Role.SMSC, BindReceiver)),
    "smsc/bound_trx": lambda: _with_outstanding(_bound(Role.SMSC, BindTransceiver)),
    "smsc/unbinding-ours": lambda: _unbinding_ours(Role.SMSC),
    "smsc/unbinding-peer": lambda: _unbinding_peer(Role.SMSC),
    "smsc/closed": lambda: _closed(Role.SMSC),
}


# --- checks ------------------------------------------------------------------------------------


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
    _require(decode(again) == pdu, "decode(encode_fields(p)) != p")
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


# --- driver ------------------------------------------------------------------------------------


@dataclass
class Crash:
    target: str
    data: bytes
    error: BaseException
    trace: str


@dataclass
class Report:
    count: int = 0
    seed: int = 0
    elapsed: float = 0.0
    decode_outcomes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    broken: int = 0
    crash: Crash | None = None

    @property
    def ok(self) -> bool:
        return self.crash is None


def fuzz_one(
    data: bytes, rng: random.Random, report: Report, scenario: str | None = None, prefix: bytes = b""
) -> None:
    """Run one input through every target; raises on any disallowed outcome (the caller reports it)."""
    report.decode_outcomes[check_decode(data)] += 1
    name = scenario or rng.choice(list(SCENARIOS))
    events = check_connection(prefix + data, name, rng)
    for event in events:
        report.events[type(event).__name__] += 1
        if isinstance(event, Rejected) and event.error.fatal:
            report.broken += 1


def run(count: int, seed: int, *, progress: Callable[[int], None] | None = None) -> Report:
    """Run ``count`` generated inputs; stops at the first crash and returns it in the report."""
    rng = random.Random(seed)
    report = Report(seed=seed)
    start = time.perf_counter()
    for i in range(count):
        prefix, data = generate(rng)
        try:
            fuzz_one(data, rng, report, prefix=prefix)
        except Exception as exc:  # the point of the fuzzer: anything else is a finding
            report.crash = Crash("decode/connection", prefix + data, exc, traceback.format_exc())
            break
        report.count = i + 1
        if progress is not None and (i + 1) % 10000 == 0:
            progress(i + 1)
    report.elapsed = time.perf_counter() - start
    return report


def print_report(report: Report, out: Callable[[str], None] = print) -> None:
    rate = report.count / report.elapsed if report.elapsed else 0.0
    out(f"inputs: {report.count}  seed: {report.seed}  elapsed: {report.elapsed:.1f}s  ({rate:,.0f}/s)")
    parsed = sum(n for k, n in report.decode_outcomes.items() if k.startswith("pdu:"))
    out(f"decode: {parsed} parsed, {report.count - parsed} ProtocolError")
    for label, n in sorted(report.decode_outcomes.items(), key=lambda kv: -kv[1]):
        out(f"  {label:<36} {n}")
    out("connection events: " + ", ".join(f"{k}={v}" for k, v in sorted(report.events.items())))
    out(f"connections broken (fatal framing): {report.broken}")
    if report.crash is not None:
        out(f"CRASH: {type(report.crash.error).__name__}: {report.crash.error}")
        out(f"input hex: {report.crash.data.hex()}")


def _run_atheris(argv: Sequence[str]) -> int:  # pragma: no cover - needs atheris
    import atheris

    rng = random.Random(0)
    report = Report()

    def test_one_input(data: bytes) -> None:
        scenario = list(SCENARIOS)[data[0] % len(SCENARIOS)] if data else "smsc/open"
        try:
            fuzz_one(data, rng, report, scenario)
        except Exception:
            print(f"input hex: {data.hex()}", flush=True)
            raise

    atheris.Setup([sys.argv[0], *argv], test_one_input)
    atheris.Fuzz()
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000, help="inputs to run (default 100000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--atheris", action="store_true", help="coverage-guided fuzzing with atheris")
    parser.add_argument("--hex", help="run one input given as hex (to replay a crash) and exit")
    args, rest = parser.parse_known_args(argv)

    if args.hex is not None:
        report = Report(seed=args.seed)
        data = bytes.fromhex(args.hex)
        for scenario in SCENARIOS:
            try:
                fuzz_one(data, random.Random(args.seed), report, scenario)
            except Exception:
                print(f"CRASH in scenario {scenario}")
                print(f"input hex: {data.hex()}")
                traceback.print_exc()
                return 1
        print("no crash in any scenario")
        return 0

    if args.atheris:
        try:
            import atheris  # noqa: F401
        except ImportError:
            print("atheris is not installed; falling back to seeded random fuzzing", file=sys.stderr)
        else:  # pragma: no cover
            return _run_atheris(rest)

    report = run(args.count, args.seed, progress=lambda n: print(f"... {n}", file=sys.stderr, flush=True))
    print_report(report)
    if report.crash is not None:
        print(report.crash.trace, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
