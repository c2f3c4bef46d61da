"""Frames rewritten on their bytes: how a proxy forwards a PDU it changed little or not at all.

Re-encoding a PDU from its fields costs more than copying its frame and writing the few octets that
differ, and it would not keep unknown TLVs or odd-but-valid encodings byte for byte. Every offset here is
named and derived from the header layout (:mod:`gateway.smpp.constants`) or from the PDU's body table
(``_BODY`` in :mod:`gateway.smpp.pdu`), never written as a bare number.
"""

from __future__ import annotations

import struct
from typing import Final, TypeVar

from .constants import COMMAND_ID_AT, SEQUENCE_NUMBER_AT, TLV_HEADER_SIZE
from .fields import Tlv
from .pdu import DeliverSm, SubmitSm, _ShortMessage

_SM = TypeVar("_SM", bound=_ShortMessage)

#: ``pack_sequence(frame_copy, SEQUENCE_NUMBER_AT, n)`` writes a sequence number in place:
#: with_sequence's second step, for loops that copy many frames.
pack_sequence: Final = struct.Struct(">I").pack_into


def with_sequence(frame: bytes, sequence_number: int) -> bytearray:
    """The same frame with another sequence number: how a proxy forwards an unchanged PDU."""
    copy = bytearray(frame)  # one copy, written in place: cheaper than joining three slices
    pack_sequence(copy, SEQUENCE_NUMBER_AT, sequence_number)
    return copy


# --- submit_sm / deliver_sm with another message (§4.4.1, §4.6.1) -------------------------------

_MESSAGE_BODY = SubmitSm._BODY
assert DeliverSm._BODY == _MESSAGE_BODY, "one layout for both"
_MESSAGE_FIELDS = [name for name, _, _ in _MESSAGE_BODY]


def _octets_to_message(first: str) -> int:
    """The fixed octets from the field ``first`` to the start of the short_message text.

    From esm_class on, every field is an Integer(1), a C-Octet String (its text, whose length varies, and
    one NUL) or short_message (sm_length, one octet, then the text): one fixed octet each.
    """
    fields = _MESSAGE_BODY[_MESSAGE_FIELDS.index(first) : _MESSAGE_FIELDS.index("short_message") + 1]
    assert all(kind in ("u8", "cstr", "sm") for _, kind, _ in fields)
    return len(fields)


#: esm_class's distance from short_message, not counting the text of the two C-Octet String times
#: (schedule_delivery_time, validity_period) that come between them.
_ESM_CLASS_TO_MESSAGE: Final = _octets_to_message("esm_class")
#: data_coding, sm_default_msg_id and sm_length come right before the text.
_DATA_CODING_TO_MESSAGE: Final = _octets_to_message("data_coding")
_SM_DEFAULT_MSG_ID_TO_MESSAGE: Final = _octets_to_message("sm_default_msg_id")
#: The longest short_message (§4.4.1: sm_length is one octet, 0-254).
_MAX_MESSAGE: Final = {name: limit for name, _, limit in _MESSAGE_BODY}["short_message"]

_pack_length = struct.Struct(">I").pack
_pack_three_octets = struct.Struct("BBB").pack


def message_frame(
    pdu: _ShortMessage, short_message: bytes, data_coding: int, esm_class: int | None = None
) -> bytes:
    """``pdu``'s original frame with another short_message and data_coding (and esm_class, when given),
    every other octet kept (the sequence number too); empty when ``pdu`` has no original frame or the
    message is too long."""
    raw = pdu.raw
    length = len(short_message)
    if not raw or length > _MAX_MESSAGE:
        return b""
    size = len(raw)
    tlvs = pdu.tlvs
    end = size - sum(TLV_HEADER_SIZE + len(value) for _, value in tlvs) if tlvs else size
    start = end - len(pdu.short_message)  # where the text starts
    if esm_class is not None and esm_class != pdu.esm_class:
        at = start - _ESM_CLASS_TO_MESSAGE - len(pdu.schedule_delivery_time) - len(pdu.validity_period)
        head = b"".join(
            (raw[COMMAND_ID_AT:at], bytes((esm_class,)), raw[at + 1 : start - _DATA_CODING_TO_MESSAGE])
        )
    else:
        head = raw[COMMAND_ID_AT : start - _DATA_CODING_TO_MESSAGE]
    return b"".join(
        (
            _pack_length(size - end + start + length),  # the new command_length
            head,
            _pack_three_octets(data_coding, raw[start - _SM_DEFAULT_MSG_ID_TO_MESSAGE], length),
            short_message,
            raw[end:],
        )
    )


def with_message(
    pdu: _SM,
    short_message: bytes,
    data_coding: int,
    *,
    esm_class: int | None = None,
    tlvs: tuple[Tlv, ...] | None = None,
) -> _SM:
    """``pdu`` carrying another message: a cheaper :func:`dataclasses.replace` for the hot path.

    When the TLVs stay and ``pdu`` has its original frame, the new frame is spliced from it (the fields
    before data_coding are not re-encoded, esm_class is written in place) and kept as the copy's ``raw``.
    """
    same_layout = tlvs is None or tlvs is pdu.tlvs
    esm = pdu.esm_class if esm_class is None else esm_class
    copy = type(pdu)(
        sequence_number=pdu.sequence_number,
        command_status=pdu.command_status,
        service_type=pdu.service_type,
        source_addr_ton=pdu.source_addr_ton,
        source_addr_npi=pdu.source_addr_npi,
        source_addr=pdu.source_addr,
        dest_addr_ton=pdu.dest_addr_ton,
        dest_addr_npi=pdu.dest_addr_npi,
        destination_addr=pdu.destination_addr,
        esm_class=esm,
        protocol_id=pdu.protocol_id,
        priority_flag=pdu.priority_flag,
        schedule_delivery_time=pdu.schedule_delivery_time,
        validity_period=pdu.validity_period,
        registered_delivery=pdu.registered_delivery,
        replace_if_present_flag=pdu.replace_if_present_flag,
        data_coding=data_coding,
        sm_default_msg_id=pdu.sm_default_msg_id,
        short_message=short_message,
        tlvs=pdu.tlvs if tlvs is None else tlvs,
    )
    if same_layout:
        raw = message_frame(pdu, short_message, data_coding, esm)
        if raw:
            object.__setattr__(copy, "raw", raw)
    return copy
