"""Bytes to PDUs and back (§3.1 - §3.2), driven by each class's ``_BODY`` table.

:func:`decode` takes exactly one frame (as cut by :class:`gateway.smpp.framing.FrameBuffer`) and returns a
typed PDU or raises :class:`RemoteProtocolError` with the status its answer should carry. :func:`encode`
returns the PDU's original frame when it has one, so a PDU forwarded unchanged leaves as the bytes that
came in.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable
from typing import Any, Final

from .constants import HEADER_SIZE, RESPONSE_BIT, TLV_HEADER_SIZE, CommandId, CommandStatus
from .errors import LocalProtocolError, RemoteProtocolError
from .fields import MESSAGE_ID_SIZE, Dest, Tlv, UnsuccessSme
from .pdu import PDU_CLASSES, DataSmResp, DeliverSm, DeliverSmResp, Pdu, SubmitSm, SubmitSmResp, _ShortMessage

_HEADER = struct.Struct(">IIII")
_TLV_HEAD = struct.Struct(">HH")
_UNSUCCESS_STATUS = struct.Struct(">I")


#: ``parse_header(frame)``: (command_length, command_id, command_status, sequence_number) of a frame
#: (§3.2), the struct's own method (no Python frame around it: it runs for every relayed response).
parse_header: Final[Callable[[bytes], tuple[int, ...]]] = _HEADER.unpack_from


def decode(frame: bytes) -> Pdu:
    """Decode one complete frame into a typed PDU.

    Raises RemoteProtocolError: ESME_RINVCMDLEN if the length field disagrees with the frame, ESME_RINVCMDID
    for an unknown command, ESME_RINVMSGLEN (or the field's own status) for a malformed body.
    """
    try:
        length, command_id, status, seq = _HEADER.unpack_from(frame)
    except struct.error:
        raise RemoteProtocolError(
            "frame shorter than a header", status=CommandStatus.ESME_RINVCMDLEN, fatal=True
        ) from None
    if length != len(frame):
        raise RemoteProtocolError(
            f"command_length {length} but frame is {len(frame)} octets",
            status=CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=seq,
            fatal=True,
        )
    cls = PDU_CLASSES.get(command_id)
    if cls is None:
        raise RemoteProtocolError(
            f"unknown command_id 0x{command_id:08x}",
            status=CommandStatus.ESME_RINVCMDID,
            command_id=command_id,
            sequence_number=seq,
        )
    if command_id in _FAST:
        fast = _decode_short_message_fast(cls, frame, seq, status)  # type: ignore[arg-type]
        if fast is not None:
            return fast
    elif command_id in _FAST_RESP:
        # submit_sm_resp / deliver_sm_resp carrying just a message_id (§4.4.2, §4.6.2).
        end = frame.find(b"\x00", HEADER_SIZE, HEADER_SIZE + MESSAGE_ID_SIZE)
        if end == length - 1:
            resp = _new(cls)  # as in _decode_short_message_fast
            resp.sequence_number = seq
            resp.command_status = status
            resp.message_id = frame[HEADER_SIZE:end].decode("latin-1")  # type: ignore[attr-defined]
            resp.raw = frame
            return resp
    fields: dict[str, Any] = {"sequence_number": seq, "command_status": status}
    try:
        pos = _decode_body(cls, frame, HEADER_SIZE, fields, lenient=bool(command_id & RESPONSE_BIT))
        if cls._HAS_TLVS:
            fields["tlvs"] = _decode_tlvs(frame, pos)
        elif pos != len(frame):
            raise _BodyError("octets after the last field", CommandStatus.ESME_RINVMSGLEN)
    except _BodyError as exc:
        raise RemoteProtocolError(
            f"{CommandId(command_id).name.lower()}: {exc.args[0]}",
            status=exc.status,
            command_id=command_id,
            sequence_number=seq,
        ) from None
    pdu = cls(**fields)
    object.__setattr__(pdu, "raw", frame)
    return pdu


_FAST = frozenset({CommandId.SUBMIT_SM, CommandId.DELIVER_SM})
_FAST_RESP = frozenset({CommandId.SUBMIT_SM_RESP, CommandId.DELIVER_SM_RESP})


class _BodyError(Exception):
    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def _cstring(frame: bytes, pos: int, limit: int, name: str) -> tuple[str, int]:
    end = frame.find(b"\x00", pos, pos + limit)
    if end < 0:
        if frame.find(b"\x00", pos) < 0:
            raise _BodyError(f"{name} is not NUL-terminated", CommandStatus.ESME_RINVMSGLEN)
        status = _FIELD_STATUS.get(name, CommandStatus.ESME_RINVPARLEN)
        raise _BodyError(f"{name} longer than {limit - 1} octets", status)
    return frame[pos:end].decode("latin-1"), end + 1


def _decode_body(cls: type[Pdu], frame: bytes, pos: int, fields: dict[str, Any], *, lenient: bool) -> int:
    end = len(frame)
    for name, kind, limit in cls._BODY:
        if pos >= end and lenient:
            # Error responses (and some SMSCs' OK ones) omit the body: §4.1.2 etc. allow it
            # when command_status is not 0; defaults stand in for the missing fields.
            return pos
        if kind == "cstr":
            fields[name], pos = _cstring(frame, pos, limit, name)
        elif kind == "u8":
            if pos >= end:
                raise _BodyError(f"{name} missing", CommandStatus.ESME_RINVMSGLEN)
            fields[name] = frame[pos]
            pos += 1
        elif kind == "sm":
            if pos >= end:
                raise _BodyError("sm_length missing", CommandStatus.ESME_RINVMSGLEN)
            sm_length = frame[pos]
            pos += 1
            if pos + sm_length > end:
                raise _BodyError(f"sm_length {sm_length} runs past the body", CommandStatus.ESME_RINVMSGLEN)
            fields[name] = frame[pos : pos + sm_length]
            pos += sm_length
        elif kind == "dests":
            fields[name], pos = _decode_dests(frame, pos)
        else:  # unsuccess
            fields[name], pos = _decode_unsuccess(frame, pos)
    return pos


def _decode_dests(frame: bytes, pos: int) -> tuple[tuple[Dest, ...], int]:
    if pos >= len(frame):
        raise _BodyError("number_of_dests missing", CommandStatus.ESME_RINVMSGLEN)
    count = frame[pos]
    pos += 1
    if count == 0 or count > 254:
        raise _BodyError(f"number_of_dests {count}", CommandStatus.ESME_RINVNUMDESTS)
    dests = []
    for _ in range(count):
        if pos + 1 > len(frame):
            raise _BodyError("dest_flag missing", CommandStatus.ESME_RINVMSGLEN)
        flag = frame[pos]
        pos += 1
        if flag == 1:
            if pos + 2 > len(frame):
                raise _BodyError("destination truncated", CommandStatus.ESME_RINVMSGLEN)
            ton, npi = frame[pos], frame[pos + 1]
            address, pos = _cstring(frame, pos + 2, 21, "destination_addr")
            dests.append(Dest(1, ton, npi, address))
        elif flag == 2:
            name, pos = _cstring(frame, pos, 21, "dl_name")
            dests.append(Dest(2, 0, 0, name))
        else:
            raise _BodyError(f"dest_flag {flag}", CommandStatus.ESME_RINVDESTFLAG)
    return tuple(dests), pos


def _decode_unsuccess(frame: bytes, pos: int) -> tuple[tuple[UnsuccessSme, ...], int]:
    if pos >= len(frame):
        return (), pos
    count = frame[pos]
    pos += 1
    out = []
    for _ in range(count):
        if pos + 2 > len(frame):
            raise _BodyError("unsuccess_sme truncated", CommandStatus.ESME_RINVMSGLEN)
        ton, npi = frame[pos], frame[pos + 1]
        address, pos = _cstring(frame, pos + 2, 21, "destination_addr")
        if pos + 4 > len(frame):
            raise _BodyError("error_status_code truncated", CommandStatus.ESME_RINVMSGLEN)
        (status,) = _UNSUCCESS_STATUS.unpack_from(frame, pos)
        pos += 4
        out.append(UnsuccessSme(ton, npi, address, status))
    return tuple(out), pos


def _decode_tlvs(frame: bytes, pos: int) -> tuple[Tlv, ...]:
    end = len(frame)
    if pos == end:
        return ()
    tlvs = []
    while pos < end:
        if pos + TLV_HEADER_SIZE > end:
            raise _BodyError("truncated TLV header", CommandStatus.ESME_RINVOPTPARSTREAM)
        tag, length = _TLV_HEAD.unpack_from(frame, pos)
        pos += TLV_HEADER_SIZE
        if pos + length > end:
            raise _BodyError(
                f"TLV 0x{tag:04x} length {length} runs past the body", CommandStatus.ESME_RINVPARLEN
            )
        tlvs.append(Tlv(tag, frame[pos : pos + length]))
        pos += length
    return tuple(tlvs)


_FIELD_STATUS: dict[str, int] = {
    "system_id": CommandStatus.ESME_RINVSYSID,
    "password": CommandStatus.ESME_RINVPASWD,
    "system_type": CommandStatus.ESME_RINVSYSTYP,
    "service_type": CommandStatus.ESME_RINVSERTYP,
    "source_addr": CommandStatus.ESME_RINVSRCADR,
    "destination_addr": CommandStatus.ESME_RINVDSTADR,
    "message_id": CommandStatus.ESME_RINVMSGID,
    "schedule_delivery_time": CommandStatus.ESME_RINVSCHED,
    "validity_period": CommandStatus.ESME_RINVEXPIRY,
    "dl_name": CommandStatus.ESME_RINVDLNAME,
}


# --- Encoding ----------------------------------------------------------------------------------


def encode(pdu: Pdu) -> bytes:
    """The PDU's frame: its original bytes when it was decoded and not changed since."""
    if pdu.raw:
        return pdu.raw
    return encode_fields(pdu)


def encode_fields(pdu: Pdu, sequence_number: int | None = None) -> bytes:
    """Encode from the fields, ignoring any original frame (``sequence_number`` overrides the PDU's).

    A submit_sm_resp, deliver_sm_resp or data_sm_resp with a non-zero command_status is the header
    alone (§4.4.2: the body is not returned then; strict clients parse it so), unless a data_sm_resp
    carries TLVs (delivery_failure_reason and the like explain the error).
    """
    seq = pdu.sequence_number if sequence_number is None else sequence_number
    if pdu.command_status and type(pdu) in _NO_BODY_ON_ERROR and not getattr(pdu, "tlvs", ()):
        return _HEADER.pack(HEADER_SIZE, pdu.command_id, pdu.command_status, seq)
    if type(pdu) in _FAST_ENCODE:
        return _encode_short_message(pdu, seq)  # type: ignore[arg-type]
    parts: list[bytes] = []
    for name, kind, limit in pdu._BODY:
        value = getattr(pdu, name)
        if kind == "cstr":
            data = value.encode("latin-1")
            if len(data) >= limit:
                raise LocalProtocolError(f"{name} longer than {limit - 1} octets: {value!r}")
            parts.append(data)
            parts.append(b"\x00")
        elif kind == "u8":
            parts.append(bytes((value,)))
        elif kind == "sm":
            if len(value) > limit:
                raise LocalProtocolError(f"short_message longer than {limit} octets")
            parts.append(bytes((len(value),)))
            parts.append(value)
        elif kind == "dests":
            parts.append(bytes((len(value),)))
            for dest in value:
                if dest.dest_flag == 1:
                    parts.append(bytes((1, dest.ton, dest.npi)))
                else:
                    parts.append(b"\x02")
                parts.append(dest.address.encode("latin-1") + b"\x00")
        else:  # unsuccess
            parts.append(bytes((len(value),)))
            for sme in value:
                parts.append(bytes((sme.ton, sme.npi)))
                parts.append(sme.address.encode("latin-1") + b"\x00")
                parts.append(_UNSUCCESS_STATUS.pack(sme.status))
    if pdu._HAS_TLVS:
        for tag, value in pdu.tlvs:  # type: ignore[attr-defined]
            parts.append(_TLV_HEAD.pack(tag, len(value)))
            parts.append(value)
    body = b"".join(parts)
    return _HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.command_status, seq) + body


def _encode_short_message(pdu: _ShortMessage, seq: int) -> bytes:
    """submit_sm / deliver_sm written out: the same octets as the table-driven encoder, faster."""
    short_message = pdu.short_message
    if len(short_message) > 254:
        raise LocalProtocolError("short_message longer than 254 octets")
    strings = (
        pdu.service_type.encode("latin-1"),
        pdu.source_addr.encode("latin-1"),
        pdu.destination_addr.encode("latin-1"),
        pdu.schedule_delivery_time.encode("latin-1"),
        pdu.validity_period.encode("latin-1"),
    )
    for value, (name, limit) in zip(strings, _SM_LIMITS, strict=True):
        if len(value) >= limit:
            raise LocalProtocolError(f"{name} longer than {limit - 1} octets")
    service_type, source, destination, schedule, validity = strings
    parts = [
        service_type,
        bytes((0, pdu.source_addr_ton, pdu.source_addr_npi)),
        source,
        bytes((0, pdu.dest_addr_ton, pdu.dest_addr_npi)),
        destination,
        bytes((0, pdu.esm_class, pdu.protocol_id, pdu.priority_flag)),
        schedule,
        b"\x00",
        validity,
        bytes(
            (
                0,
                pdu.registered_delivery,
                pdu.replace_if_present_flag,
                pdu.data_coding,
                pdu.sm_default_msg_id,
                len(short_message),
            )
        ),
        short_message,
    ]
    for tag, value in pdu.tlvs:
        parts.append(_TLV_HEAD.pack(tag, len(value)))
        parts.append(value)
    body = b"".join(parts)
    return _HEADER.pack(HEADER_SIZE + len(body), pdu.command_id, pdu.command_status, seq) + body


_SM_LIMITS = (
    ("service_type", 6),
    ("source_addr", 21),
    ("destination_addr", 21),
    ("schedule_delivery_time", 17),
    ("validity_period", 17),
)
_FAST_ENCODE = frozenset({SubmitSm, DeliverSm})
_NO_BODY_ON_ERROR = frozenset({SubmitSmResp, DeliverSmResp, DataSmResp})


# --- Fast path for submit_sm / deliver_sm ------------------------------------------------------
# The bulk of traffic. Same result as the table-driven decoder, written out; any irregularity falls
# back to the table-driven decoder so that errors are reported in one place.


#: The mandatory fields of submit_sm / deliver_sm up to sm_length (§4.4.1, §4.6.1), each C-Octet String
#: within its maximum length: service_type 6, the addresses 21, the two times 17 (NUL included). Runs of
#: one-octet fields are one group each, unpacked into ints.
_SHORT_MESSAGE_HEAD = re.compile(
    rb"([^\0]{0,5})\0(..)([^\0]{0,20})\0(..)([^\0]{0,20})\0(...)([^\0]{0,16})\0([^\0]{0,16})\0(.....)",
    re.DOTALL,
)


def _decode_short_message_fast(cls: type[_ShortMessage], frame: bytes, seq: int, status: int) -> Pdu | None:
    """submit_sm / deliver_sm in one pattern match; None to leave anything unusual to the table path
    (which then names the field at fault)."""
    match = _SHORT_MESSAGE_HEAD.match(frame, HEADER_SIZE)
    if match is None:
        return None
    service_type, source, source_addr, dest, destination_addr, flags, schedule, validity, tail = (
        match.groups()
    )
    p = match.end()
    end = len(frame)
    q = p + tail[4]  # sm_length
    if q > end:
        return None
    try:
        tlvs = _decode_tlvs(frame, q) if q < end else ()
    except _BodyError:
        return None
    # Set slot by slot on a bare instance: calling the keyword-only constructor with 20 keywords costs
    # about 1 µs more, once per message. A field left out here would be unset, not defaulted: the tests
    # (test_decoders_set_every_field in tests/test_smpp_codec.py) check, for every PDU class, that each
    # dataclass field is set and equal to the table-driven decoder's, which goes through the constructor.
    pdu = _new(cls)
    pdu.sequence_number = seq
    pdu.command_status = status
    pdu.service_type = service_type.decode("latin-1") if service_type else ""
    pdu.source_addr_ton, pdu.source_addr_npi = source
    pdu.source_addr = source_addr.decode("latin-1")
    pdu.dest_addr_ton, pdu.dest_addr_npi = dest
    pdu.destination_addr = destination_addr.decode("latin-1")
    pdu.esm_class, pdu.protocol_id, pdu.priority_flag = flags
    pdu.schedule_delivery_time = schedule.decode("latin-1") if schedule else ""
    pdu.validity_period = validity.decode("latin-1") if validity else ""
    pdu.registered_delivery, pdu.replace_if_present_flag, pdu.data_coding, pdu.sm_default_msg_id, _ = tail
    pdu.short_message = frame[p:q]
    pdu.tlvs = tlvs
    pdu.raw = frame
    return pdu


_new = object.__new__
