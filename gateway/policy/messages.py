"""Reading and rewriting the text of message PDUs, as pure functions.

MO side: is a deliver_sm a receipt, what text does it carry, is it one part of a concatenated message.
MT side: the footer applied to a submit, giving one PDU, one PDU with message_payload, or several parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from gateway.smpp.constants import ESM_MESSAGE_TYPE_MASK, Tag
from gateway.smpp.fields import Tlv, find_tlv, replace_tlv
from gateway.smpp.pdu import (
    DataSm,
    DeliverSm,
    MessagePdu,
    SubmitMulti,
    SubmitSm,
    message_text_bytes,
)
from gateway.smpp.splice import message_frame, with_message
from gateway.text.encoding import TEXT_CODINGS, decode_text, encode_text
from gateway.text.footer import append_footer, append_footer_octets
from gateway.text.segments import split_octets, split_text
from gateway.text.udh import Concat, concat_udh, parse_concat, split_udh


@dataclass(frozen=True, slots=True)
class MessageText:
    """The readable content of a message PDU."""

    text: str
    #: The concatenation header (UDH IE 0/8 or SAR TLVs) when the PDU is one part of several.
    concat: Concat | None = None
    #: True when the concatenation came in SAR TLVs rather than a UDH.
    sar: bool = False
    #: The UDH (with its length octet) that preceded the text, if any.
    udh: bytes = b""
    #: True when the text came from the message_payload TLV.
    payload_tlv: bool = False


def is_receipt(pdu: DeliverSm | DataSm) -> bool:
    """A delivery receipt or acknowledgement, never an MO message (§5.2.12, §5.3.2.12, §5.3.2.35)."""
    if pdu.esm_class & ESM_MESSAGE_TYPE_MASK:
        return True
    return any(tag == Tag.RECEIPTED_MESSAGE_ID or tag == Tag.MESSAGE_STATE for tag, _ in pdu.tlvs)


def read_text(pdu: MessagePdu) -> MessageText | None:
    """The text of a message, its UDH stripped, or None when it is binary or its UDH is broken."""
    data_coding = pdu.data_coding
    if data_coding not in TEXT_CODINGS:
        return None
    payload_tlv = isinstance(pdu, DataSm) or (
        not pdu.short_message and find_tlv(pdu.tlvs, Tag.MESSAGE_PAYLOAD) is not None
    )
    data = message_text_bytes(pdu)
    udh = b""
    concat: Concat | None = None
    sar = False
    if pdu.esm_class & _UDHI:
        try:
            udh, data = split_udh(data)
        except ValueError:
            return None
        concat = parse_concat(udh)
    else:
        concat = _sar(pdu.tlvs)
        sar = concat is not None
    return MessageText(decode_text(data, data_coding), concat, sar, udh, payload_tlv)


def _sar(tlvs: tuple[Tlv, ...]) -> Concat | None:
    ref = find_tlv(tlvs, Tag.SAR_MSG_REF_NUM)
    total = find_tlv(tlvs, Tag.SAR_TOTAL_SEGMENTS)
    seq = find_tlv(tlvs, Tag.SAR_SEGMENT_SEQNUM)
    if ref is None or total is None or seq is None or len(ref) != 2 or len(total) != 1 or len(seq) != 1:
        return None
    try:
        return Concat(int.from_bytes(ref, "big"), total[0], seq[0], 16)
    except ValueError:
        return None


# --- Receipts ------------------------------------------------------------------------------------

_RECEIPT_ID = re.compile(rb"id:([^ ]*)")


def receipt_message_id(pdu: DeliverSm | DataSm) -> str | None:
    """The message id a receipt refers to: the receipted_message_id TLV, else the text's ``id:``."""
    value = find_tlv(pdu.tlvs, Tag.RECEIPTED_MESSAGE_ID)
    if value is not None:
        return value.rstrip(b"\x00").decode("latin-1")
    match = _RECEIPT_ID.search(message_text_bytes(pdu))
    return match.group(1).decode("latin-1") if match else None


def rewrite_receipt_id(pdu: DeliverSm | DataSm, message_id: str) -> DeliverSm | DataSm:
    """The receipt with its message id replaced, in the TLV and in the text's ``id:`` field."""
    tlvs = pdu.tlvs
    if find_tlv(tlvs, Tag.RECEIPTED_MESSAGE_ID) is not None:
        tlvs = replace_tlv(tlvs, Tag.RECEIPTED_MESSAGE_ID, message_id.encode("latin-1") + b"\x00")
    if isinstance(pdu, DeliverSm) and pdu.short_message:
        text = _RECEIPT_ID.sub(b"id:" + message_id.encode("latin-1"), pdu.short_message, count=1)
        return replace(pdu, short_message=text, tlvs=tlvs)
    payload = find_tlv(tlvs, Tag.MESSAGE_PAYLOAD)
    if payload is not None:
        tlvs = replace_tlv(
            tlvs,
            Tag.MESSAGE_PAYLOAD,
            _RECEIPT_ID.sub(b"id:" + message_id.encode("latin-1"), payload, count=1),
        )
    return replace(pdu, tlvs=tlvs)


# --- Footer --------------------------------------------------------------------------------------


def footer_parts(
    pdu: SubmitSm | DataSm | SubmitMulti,
    footer: str,
    *,
    use_payload: bool,
    reference: int,
    message: MessageText | None = None,
) -> list[SubmitSm | DataSm | SubmitMulti] | None:
    """The PDUs that carry ``pdu``'s message with the footer appended, or None to send it unchanged.

    None when the footer is already there, the message is binary, or it carries a UDH other than
    concatenation (ports, WAP push: not text to extend). One PDU when the result fits one segment
    or goes in message_payload (``use_payload``, data_sm, or a message that came that way); else
    concatenated parts with an 8-bit UDH reference, none splitting a GSM escape or surrogate pair.
    """
    message = message or read_text(pdu)
    if message is None or message.concat is not None or message.udh:
        return None
    text, data_coding = append_footer(message.text, footer, pdu.data_coding)
    if text is message.text:  # the footer is already there
        return None
    return text_parts(
        pdu, text, data_coding, use_payload=use_payload or message.payload_tlv, reference=reference
    )


def footer_frame(pdu: SubmitSm, footer: str) -> bytes | None:
    """:func:`footer_parts` for the common submit_sm, answered on its octets when it can be.

    ``pdu.raw`` itself when the footer is already there; a new frame (``pdu.raw`` with the footer spliced
    into short_message, every other octet kept) when the message with its footer fits one segment in
    the same coding; None when :func:`footer_parts` has to decide (a UDH, text TLVs, other characters,
    a coding change or a split). Where it answers, the frame is the one footer_parts' PDU would have.
    """
    # _octet_path_takes(), written out: this runs for every marketing message.
    if not pdu.raw or pdu.esm_class & _UDHI or (pdu.tlvs and any(tag in _TEXT_TLVS for tag, _ in pdu.tlvs)):
        return None
    octets = append_footer_octets(pdu.short_message, pdu.data_coding, footer)
    if octets is None:
        return None
    if octets is pdu.short_message:
        return pdu.raw
    return message_frame(pdu, octets, pdu.data_coding) or None


def footer_split_parts(pdu: SubmitSm, footer: str, reference: int) -> list[SubmitSm] | None:
    """:func:`footer_parts` for the common submit_sm that the footer pushes past one segment, answered
    on its octets: the concatenated parts (8-bit reference UDH), each frame spliced from ``pdu.raw``.
    None when :func:`footer_parts` has to decide (as for :func:`footer_frame`) or there is nothing to
    split. Where it answers, the parts are those footer_parts would give (with ``use_payload`` off).
    """
    if not _octet_path_takes(pdu):
        return None
    data_coding = pdu.data_coding
    octets = append_footer_octets(pdu.short_message, data_coding, footer, split=True)
    if octets is None or octets is pdu.short_message:
        return None
    payloads = split_octets(octets, data_coding)
    total = len(payloads)
    if not 1 < total <= 255:  # one segment is footer_frame's; more than 255 is footer_parts' error
        return None
    esm_class = pdu.esm_class | _UDHI
    tlvs = pdu.tlvs
    parts = []
    for seq, payload in enumerate(payloads, start=1):
        udh = concat_udh(reference & 0xFF, total, seq, 8)
        parts.append(with_message(pdu, udh + payload, data_coding, esm_class=esm_class, tlvs=tlvs))
    return parts


def _octet_path_takes(pdu: SubmitSm) -> bool:
    """The message is in short_message with its original frame, no UDH and no TLV that carries or
    cuts text."""
    return bool(pdu.raw) and not pdu.esm_class & _UDHI and not (
        pdu.tlvs and any(tag in _TEXT_TLVS for tag, _ in pdu.tlvs)
    )


def text_parts(
    pdu: SubmitSm | DataSm | SubmitMulti,
    text: str,
    data_coding: int,
    *,
    use_payload: bool,
    reference: int,
    sar: bool = False,
) -> list[SubmitSm | DataSm | SubmitMulti]:
    """``pdu`` re-cut to carry ``text``: one PDU, one with message_payload, or concatenated parts."""
    tlvs = _without_concat(pdu.tlvs)
    esm_class = pdu.esm_class & ~_UDHI
    if isinstance(pdu, DataSm) or use_payload:
        payload_tlvs = replace_tlv(tlvs, Tag.MESSAGE_PAYLOAD, encode_text(text, data_coding))
        if isinstance(pdu, DataSm):
            return [replace(pdu, data_coding=data_coding, esm_class=esm_class, tlvs=payload_tlvs)]
        return [_with(pdu, b"", data_coding, esm_class, payload_tlvs)]
    tlvs = replace_tlv(tlvs, Tag.MESSAGE_PAYLOAD, None)
    payloads = split_text(text, data_coding)
    total = len(payloads)
    if total == 1:
        return [_with(pdu, payloads[0], data_coding, esm_class, tlvs)]
    if total > 255:
        raise ValueError(f"message needs {total} parts; at most 255 are possible")
    parts: list[SubmitSm | DataSm | SubmitMulti] = []
    for seq, payload in enumerate(payloads, start=1):
        if sar:
            part_tlvs = (
                *tlvs,
                Tlv(Tag.SAR_MSG_REF_NUM, (reference & 0xFFFF).to_bytes(2, "big")),
                Tlv(Tag.SAR_TOTAL_SEGMENTS, bytes((total,))),
                Tlv(Tag.SAR_SEGMENT_SEQNUM, bytes((seq,))),
            )
            parts.append(_with(pdu, payload, data_coding, esm_class, part_tlvs))
        else:
            udh = concat_udh(reference & 0xFF, total, seq, 8)
            parts.append(_with(pdu, udh + payload, data_coding, esm_class | _UDHI, tlvs))
    return parts


_UDHI = 0x40


def _with(
    pdu: SubmitSm | SubmitMulti, short_message: bytes, data_coding: int, esm_class: int, tlvs: tuple[Tlv, ...]
) -> SubmitSm | SubmitMulti:
    if isinstance(pdu, SubmitSm):
        if esm_class == pdu.esm_class and tlvs is pdu.tlvs:
            return with_message(pdu, short_message, data_coding)  # spliced from the original frame
        return with_message(pdu, short_message, data_coding, esm_class=esm_class, tlvs=tlvs)
    return replace(pdu, short_message=short_message, data_coding=data_coding, esm_class=esm_class, tlvs=tlvs)


_CONCAT_TAGS = frozenset({Tag.SAR_MSG_REF_NUM, Tag.SAR_TOTAL_SEGMENTS, Tag.SAR_SEGMENT_SEQNUM})
#: TLVs that carry or cut the text: a submit with any of them takes the text path.
_TEXT_TLVS = _CONCAT_TAGS | {Tag.MESSAGE_PAYLOAD}


def _without_concat(tlvs: tuple[Tlv, ...]) -> tuple[Tlv, ...]:
    if not any(tag in _CONCAT_TAGS for tag, _ in tlvs):
        return tlvs
    return tuple(t for t in tlvs if t.tag not in _CONCAT_TAGS)
