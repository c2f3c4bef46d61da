"""The fuzzer's inputs: valid PDUs of every command (the seeds), the mutations applied to them, and
:func:`generate`, which makes one input from them (or from random bytes)."""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from typing import Any

from gateway.smpp.codec import encode_fields, parse_header
from gateway.smpp.constants import HEADER_SIZE, RESPONSE_BIT, CommandId, CommandStatus, Tag
from gateway.smpp.fields import Dest, Tlv, UnsuccessSme
from gateway.smpp.pdu import (
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
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
