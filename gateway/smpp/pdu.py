"""Typed SMPP 3.4 PDUs: keyword-only, slotted dataclasses, one per command (§4).

PDUs are values: never assign to a field, derive a changed copy with :func:`dataclasses.replace`.
They are not declared ``frozen`` only because a frozen dataclass's constructor costs 2.5x as much
(4.5 µs against 1.7 µs for a submit_sm here), and a PDU is built on every hop of the hot path.

Each class lists its mandatory body fields, in wire order, in ``_BODY``: the codec
(:mod:`gateway.smpp.codec`) reads and writes bodies from that one table, so a field's type, size limit
and position are stated once. Text-like fields (system_id, addresses, message ids) are ``str`` decoded as
Latin-1, which maps every octet to one character, so decoding then encoding is byte-exact.
``short_message`` stays ``bytes``: its meaning depends on data_coding and esm_class.

Optional parameters (TLVs, §5.3) are kept raw as a tuple of :class:`Tlv` in wire order, so unknown vendor
TLVs survive a proxy byte for byte. A decoded PDU remembers its original frame in ``raw``; a PDU built or
changed with :func:`dataclasses.replace` has an empty ``raw`` and is encoded from its fields.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Literal, NamedTuple, TypeVar

from .constants import SMPP_VERSION_34, CommandId, CommandStatus, Tag

FieldKind = Literal["cstr", "u8", "sm", "dests", "unsuccess"]


class Tlv(NamedTuple):
    """One optional parameter: tag, raw value (§3.2.4.1)."""

    tag: int
    value: bytes


class Dest(NamedTuple):
    """A submit_multi destination (§4.5.1.1): an SME address (flag 1) or a distribution list (flag 2)."""

    dest_flag: int
    ton: int = 0
    npi: int = 0
    address: str = ""  #: SME address, or the distribution list name when dest_flag is 2


class UnsuccessSme(NamedTuple):
    """A destination that submit_multi could not deliver to, with its error (§4.5.2)."""

    ton: int
    npi: int
    address: str
    status: int


def find_tlv(tlvs: tuple[Tlv, ...], tag: int) -> bytes | None:
    """The value of the first TLV with this tag, or None."""
    for tlv in tlvs:
        if tlv.tag == tag:
            return tlv.value
    return None


def replace_tlv(tlvs: tuple[Tlv, ...], tag: int, value: bytes | None) -> tuple[Tlv, ...]:
    """TLVs with ``tag`` set to ``value`` in place (appended if absent), or removed when value is None."""
    if value is None and all(tlv.tag != tag for tlv in tlvs):
        return tlvs  # nothing to remove: the same tuple, so callers can tell nothing changed
    out: list[Tlv] = []
    done = False
    for tlv in tlvs:
        if tlv.tag == tag:
            if value is not None and not done:
                out.append(Tlv(tag, value))
            done = True
        else:
            out.append(tlv)
    if not done and value is not None:
        out.append(Tlv(tag, value))
    return tuple(out)


@dataclass(slots=True, kw_only=True)
class Pdu:
    """Header fields common to every PDU (§3.2); command_length is computed when encoding."""

    command_id: ClassVar[CommandId]
    #: (field name, kind, maximum size including the NUL for C-octet strings)
    _BODY: ClassVar[tuple[tuple[str, FieldKind, int], ...]] = ()
    #: Whether optional parameters may follow the mandatory fields.
    _HAS_TLVS: ClassVar[bool] = False

    sequence_number: int = 0
    command_status: int = CommandStatus.ESME_ROK
    #: The frame this PDU was decoded from; empty for PDUs built locally or changed since.
    raw: bytes = field(default=b"", init=False, compare=False, repr=False)

    @property
    def is_response(self) -> bool:
        return self.command_id.is_response


# --- Session management (§4.1, §4.2, §4.11, §4.12) ---------------------------------------------


@dataclass(slots=True, kw_only=True)
class _Bind(Pdu):
    _BODY = (
        ("system_id", "cstr", 16),
        ("password", "cstr", 9),
        ("system_type", "cstr", 13),
        ("interface_version", "u8", 1),
        ("addr_ton", "u8", 1),
        ("addr_npi", "u8", 1),
        ("address_range", "cstr", 41),
    )
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = SMPP_VERSION_34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


@dataclass(slots=True, kw_only=True)
class BindTransmitter(_Bind):
    command_id = CommandId.BIND_TRANSMITTER


@dataclass(slots=True, kw_only=True)
class BindReceiver(_Bind):
    command_id = CommandId.BIND_RECEIVER


@dataclass(slots=True, kw_only=True)
class BindTransceiver(_Bind):
    command_id = CommandId.BIND_TRANSCEIVER


@dataclass(slots=True, kw_only=True)
class _BindResp(Pdu):
    _BODY = (("system_id", "cstr", 16),)
    _HAS_TLVS = True
    system_id: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(slots=True, kw_only=True)
class BindTransmitterResp(_BindResp):
    command_id = CommandId.BIND_TRANSMITTER_RESP


@dataclass(slots=True, kw_only=True)
class BindReceiverResp(_BindResp):
    command_id = CommandId.BIND_RECEIVER_RESP


@dataclass(slots=True, kw_only=True)
class BindTransceiverResp(_BindResp):
    command_id = CommandId.BIND_TRANSCEIVER_RESP


@dataclass(slots=True, kw_only=True)
class Outbind(Pdu):
    command_id = CommandId.OUTBIND
    _BODY = (("system_id", "cstr", 16), ("password", "cstr", 9))
    system_id: str = ""
    password: str = ""


@dataclass(slots=True, kw_only=True)
class Unbind(Pdu):
    command_id = CommandId.UNBIND


@dataclass(slots=True, kw_only=True)
class UnbindResp(Pdu):
    command_id = CommandId.UNBIND_RESP


@dataclass(slots=True, kw_only=True)
class GenericNack(Pdu):
    command_id = CommandId.GENERIC_NACK


@dataclass(slots=True, kw_only=True)
class EnquireLink(Pdu):
    command_id = CommandId.ENQUIRE_LINK


@dataclass(slots=True, kw_only=True)
class EnquireLinkResp(Pdu):
    command_id = CommandId.ENQUIRE_LINK_RESP


# --- Messages (§4.4 - §4.10) -------------------------------------------------------------------

_SM_TAIL: tuple[tuple[str, FieldKind, int], ...] = (
    ("esm_class", "u8", 1),
    ("protocol_id", "u8", 1),
    ("priority_flag", "u8", 1),
    ("schedule_delivery_time", "cstr", 17),
    ("validity_period", "cstr", 17),
    ("registered_delivery", "u8", 1),
    ("replace_if_present_flag", "u8", 1),
    ("data_coding", "u8", 1),
    ("sm_default_msg_id", "u8", 1),
    ("short_message", "sm", 254),
)
_SOURCE: tuple[tuple[str, FieldKind, int], ...] = (
    ("source_addr_ton", "u8", 1),
    ("source_addr_npi", "u8", 1),
    ("source_addr", "cstr", 21),
)
_DEST: tuple[tuple[str, FieldKind, int], ...] = (
    ("dest_addr_ton", "u8", 1),
    ("dest_addr_npi", "u8", 1),
    ("destination_addr", "cstr", 21),
)
#: data_sm (§4.7.1) and alert_notification (§4.12.1) allow longer addresses: Var. max 65.
_SOURCE_65: tuple[tuple[str, FieldKind, int], ...] = (
    ("source_addr_ton", "u8", 1),
    ("source_addr_npi", "u8", 1),
    ("source_addr", "cstr", 65),
)
_DEST_65: tuple[tuple[str, FieldKind, int], ...] = (
    ("dest_addr_ton", "u8", 1),
    ("dest_addr_npi", "u8", 1),
    ("destination_addr", "cstr", 65),
)


@dataclass(slots=True, kw_only=True)
class _ShortMessage(Pdu):
    """The common layout of submit_sm (§4.4.1) and deliver_sm (§4.6.1)."""

    _BODY = (("service_type", "cstr", 6), *_SOURCE, *_DEST, *_SM_TAIL)
    _HAS_TLVS = True
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


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


def message_frame(
    pdu: _ShortMessage, short_message: bytes, data_coding: int, esm_class: int | None = None
) -> bytes:
    """``pdu``'s original frame with another short_message and data_coding (and esm_class, when given),
    every other octet kept (the sequence number too); empty when ``pdu`` has no original frame or the
    message is too long."""
    raw = pdu.raw
    length = len(short_message)
    if not raw or length > 254:
        return b""
    size = len(raw)
    tlvs = pdu.tlvs
    end = size - sum(4 + len(value) for _, value in tlvs) if tlvs else size
    start = end - len(pdu.short_message)  # short_message; before it data_coding, sm_default_msg_id, sm_length
    if esm_class is not None and esm_class != pdu.esm_class:
        # esm_class, protocol_id, priority_flag, the two C-Octet String times, registered_delivery and
        # replace_if_present_flag come before data_coding (§4.4.1).
        at = start - 10 - len(pdu.schedule_delivery_time) - len(pdu.validity_period)
        head = b"".join((raw[4:at], bytes((esm_class,)), raw[at + 1 : start - 3]))
    else:
        head = raw[4 : start - 3]
    return b"".join(
        (
            _pack_length(size - end + start + length),
            head,
            _pack_three_octets(data_coding, raw[start - 2], length),
            short_message,
            raw[end:],
        )
    )


_pack_length = struct.Struct(">I").pack
_pack_three_octets = struct.Struct("BBB").pack


@dataclass(slots=True, kw_only=True)
class SubmitSm(_ShortMessage):
    command_id = CommandId.SUBMIT_SM


@dataclass(slots=True, kw_only=True)
class DeliverSm(_ShortMessage):
    command_id = CommandId.DELIVER_SM


@dataclass(slots=True, kw_only=True)
class _MessageIdResp(Pdu):
    _BODY = (("message_id", "cstr", 65),)
    message_id: str = ""


@dataclass(slots=True, kw_only=True)
class SubmitSmResp(_MessageIdResp):
    command_id = CommandId.SUBMIT_SM_RESP


@dataclass(slots=True, kw_only=True)
class DeliverSmResp(_MessageIdResp):
    command_id = CommandId.DELIVER_SM_RESP


@dataclass(slots=True, kw_only=True)
class SubmitMulti(Pdu):
    """§4.5.1: one message to up to 254 destinations."""

    command_id = CommandId.SUBMIT_MULTI
    _BODY = (("service_type", "cstr", 6), *_SOURCE, ("dests", "dests", 254), *_SM_TAIL)
    _HAS_TLVS = True
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dests: tuple[Dest, ...] = ()
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(slots=True, kw_only=True)
class SubmitMultiResp(Pdu):
    """§4.5.2: the message id and the destinations that failed."""

    command_id = CommandId.SUBMIT_MULTI_RESP
    _BODY = (("message_id", "cstr", 65), ("unsuccess_smes", "unsuccess", 254))
    message_id: str = ""
    unsuccess_smes: tuple[UnsuccessSme, ...] = ()


@dataclass(slots=True, kw_only=True)
class DataSm(Pdu):
    """§4.7.1: a message in either direction with all optional data in TLVs."""

    command_id = CommandId.DATA_SM
    _BODY = (
        ("service_type", "cstr", 6),
        *_SOURCE_65,
        *_DEST_65,
        ("esm_class", "u8", 1),
        ("registered_delivery", "u8", 1),
        ("data_coding", "u8", 1),
    )
    _HAS_TLVS = True
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0
    tlvs: tuple[Tlv, ...] = ()


@dataclass(slots=True, kw_only=True)
class DataSmResp(Pdu):
    command_id = CommandId.DATA_SM_RESP
    _BODY = (("message_id", "cstr", 65),)
    _HAS_TLVS = True
    message_id: str = ""
    tlvs: tuple[Tlv, ...] = ()


@dataclass(slots=True, kw_only=True)
class QuerySm(Pdu):
    """§4.8.1."""

    command_id = CommandId.QUERY_SM
    _BODY = (("message_id", "cstr", 65), *_SOURCE)
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""


@dataclass(slots=True, kw_only=True)
class QuerySmResp(Pdu):
    """§4.8.2."""

    command_id = CommandId.QUERY_SM_RESP
    _BODY = (
        ("message_id", "cstr", 65),
        ("final_date", "cstr", 17),
        ("message_state", "u8", 1),
        ("error_code", "u8", 1),
    )
    message_id: str = ""
    final_date: str = ""
    message_state: int = 0
    error_code: int = 0


@dataclass(slots=True, kw_only=True)
class CancelSm(Pdu):
    """§4.9.1."""

    command_id = CommandId.CANCEL_SM
    _BODY = (("service_type", "cstr", 6), ("message_id", "cstr", 65), *_SOURCE, *_DEST)
    service_type: str = ""
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""


@dataclass(slots=True, kw_only=True)
class CancelSmResp(Pdu):
    command_id = CommandId.CANCEL_SM_RESP


@dataclass(slots=True, kw_only=True)
class ReplaceSm(Pdu):
    """§4.10.1."""

    command_id = CommandId.REPLACE_SM
    _BODY = (
        ("message_id", "cstr", 65),
        *_SOURCE,
        ("schedule_delivery_time", "cstr", 17),
        ("validity_period", "cstr", 17),
        ("registered_delivery", "u8", 1),
        ("sm_default_msg_id", "u8", 1),
        ("short_message", "sm", 254),
    )
    message_id: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""


@dataclass(slots=True, kw_only=True)
class ReplaceSmResp(Pdu):
    command_id = CommandId.REPLACE_SM_RESP


@dataclass(slots=True, kw_only=True)
class AlertNotification(Pdu):
    """§4.12.1: the SMSC says an MS is available again. Not answered."""

    command_id = CommandId.ALERT_NOTIFICATION
    _BODY = (
        *_SOURCE_65,
        ("esme_addr_ton", "u8", 1),
        ("esme_addr_npi", "u8", 1),
        ("esme_addr", "cstr", 65),
    )
    _HAS_TLVS = True
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    esme_addr_ton: int = 0
    esme_addr_npi: int = 0
    esme_addr: str = ""
    tlvs: tuple[Tlv, ...] = ()


PDU_CLASSES: dict[int, type[Pdu]] = {
    cls.command_id: cls
    for cls in (
        BindTransmitter,
        BindTransmitterResp,
        BindReceiver,
        BindReceiverResp,
        BindTransceiver,
        BindTransceiverResp,
        Outbind,
        Unbind,
        UnbindResp,
        GenericNack,
        EnquireLink,
        EnquireLinkResp,
        SubmitSm,
        SubmitSmResp,
        DeliverSm,
        DeliverSmResp,
        SubmitMulti,
        SubmitMultiResp,
        DataSm,
        DataSmResp,
        QuerySm,
        QuerySmResp,
        CancelSm,
        CancelSmResp,
        ReplaceSm,
        ReplaceSmResp,
        AlertNotification,
    )
}

BIND_CLASSES: dict[int, type[_Bind]] = {
    CommandId.BIND_TRANSMITTER: BindTransmitter,
    CommandId.BIND_RECEIVER: BindReceiver,
    CommandId.BIND_TRANSCEIVER: BindTransceiver,
}

_SM = TypeVar("_SM", bound="_ShortMessage")

#: Message-carrying PDUs the opt-out engine looks into.
MessagePdu = SubmitSm | DeliverSm | SubmitMulti | DataSm

Bind = _Bind
BindResp = _BindResp


def response_class(command_id: int) -> type[Pdu]:
    """The response class for a request's command_id (generic_nack when there is none)."""
    return PDU_CLASSES.get(command_id | 0x80000000, GenericNack)


def response_for(command_id: int, sequence_number: int, status: int) -> Pdu:
    """An empty-bodied response of the right type to the request ``command_id``."""
    return response_class(command_id)(sequence_number=sequence_number, command_status=status)


def make_response(request: Pdu, status: int = CommandStatus.ESME_ROK, **fields: object) -> Pdu:
    """The response to ``request`` with the same sequence number (§2.5: responses echo it)."""
    cls = response_class(request.command_id)
    return cls(sequence_number=request.sequence_number, command_status=status, **fields)


def message_text_bytes(pdu: SubmitSm | DeliverSm | SubmitMulti | DataSm) -> bytes:
    """short_message, or the message_payload TLV when short_message is empty (§5.3.2.32)."""
    if not isinstance(pdu, DataSm) and pdu.short_message:
        return pdu.short_message
    return find_tlv(pdu.tlvs, Tag.MESSAGE_PAYLOAD) or b""
