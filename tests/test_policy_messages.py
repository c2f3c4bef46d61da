"""Reading MO text and rewriting MT messages (gateway/policy/messages.py), from tables and properties."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.policy.keywords import Intent, classify_mo
from gateway.policy.messages import (
    footer_frame,
    footer_parts,
    footer_split_parts,
    is_receipt,
    read_text,
    receipt_message_id,
    rewrite_receipt_id,
)
from gateway.smpp.codec import decode, encode, encode_fields
from gateway.smpp.constants import DataCoding, EsmClass, Tag
from gateway.smpp.fields import Tlv, find_tlv
from gateway.smpp.pdu import DataSm, DeliverSm, SubmitSm
from gateway.text.encoding import UnencodableError, decode_text, encode_text
from gateway.text.footer import append_footer_octets
from gateway.text.udh import concat_udh, parse_concat, split_udh

FOOTER = "Reply STOP to opt out"


def deliver(short_message: bytes = b"", **fields: object) -> DeliverSm:
    return DeliverSm(
        source_addr="447700900401", destination_addr="88088", short_message=short_message, **fields
    )  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("pdu", "text"),
    [
        (deliver(b"STOP"), "STOP"),
        (deliver(b"\x1b\x65 STOP"), "€ STOP"),  # GSM escape
        (deliver(b"stop", data_coding=DataCoding.IA5), "stop"),
        (deliver("Stop ça".encode("latin-1"), data_coding=DataCoding.LATIN1), "Stop ça"),
        (deliver("ＳＴＯＰ 🙏".encode("utf-16-be"), data_coding=DataCoding.UCS2), "ＳＴＯＰ 🙏"),
        (deliver(tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"unsubscribe"),)), "unsubscribe"),
        (DataSm(source_addr="447700900401", tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"END"),)), "END"),
        (deliver(concat_udh(5, 2, 1) + b"STOP now", esm_class=EsmClass.UDHI), "STOP now"),
        (deliver(concat_udh(300, 2, 1, 16) + b"quit", esm_class=EsmClass.UDHI), "quit"),
    ],
)
def test_read_text_decodes_each_encoding_and_carrier(pdu: DeliverSm | DataSm, text: str) -> None:
    message = read_text(pdu)
    assert message is not None
    assert message.text == text
    assert classify_mo(message.text) is not None
    assert classify_mo(message.text).intent is Intent.OPT_OUT  # type: ignore[union-attr]


def test_read_text_reports_concatenation_from_udh_and_sar() -> None:
    udh = read_text(deliver(concat_udh(300, 3, 2, 16) + b"x", esm_class=EsmClass.UDHI))
    assert udh is not None and udh.concat is not None
    assert (udh.concat.reference, udh.concat.total, udh.concat.seq) == (300, 3, 2)
    sar = read_text(
        deliver(
            b"x",
            tlvs=(
                Tlv(Tag.SAR_MSG_REF_NUM, b"\x01\x02"),
                Tlv(Tag.SAR_TOTAL_SEGMENTS, b"\x02"),
                Tlv(Tag.SAR_SEGMENT_SEQNUM, b"\x01"),
            ),
        )
    )
    assert sar is not None and sar.sar and sar.concat is not None and sar.concat.reference == 0x0102


def test_read_text_refuses_binary_and_broken_udh() -> None:
    assert read_text(deliver(b"\x00\x01", data_coding=DataCoding.BINARY_8BIT)) is None
    assert read_text(deliver(b"\x09\x00\x03", esm_class=EsmClass.UDHI)) is None


@pytest.mark.parametrize(
    "pdu",
    [
        deliver(b"id:1 stat:DELIVRD text:STOP", esm_class=EsmClass.SMSC_DELIVERY_RECEIPT),
        deliver(b"STOP", esm_class=EsmClass.SME_DELIVERY_ACK),
        deliver(b"STOP", esm_class=EsmClass.INTERMEDIATE_NOTIFICATION),
        deliver(b"STOP", tlvs=(Tlv(Tag.RECEIPTED_MESSAGE_ID, b"1\x00"),)),
        deliver(b"STOP", tlvs=(Tlv(Tag.MESSAGE_STATE, b"\x02"),)),
    ],
)
def test_receipts_are_recognised(pdu: DeliverSm) -> None:
    assert is_receipt(pdu)


def test_plain_mo_is_not_a_receipt() -> None:
    assert not is_receipt(deliver(b"STOP", esm_class=EsmClass.UDHI))


def test_receipt_id_rewritten_in_tlv_and_text() -> None:
    receipt = deliver(
        b"id:abc123 sub:001 dlvrd:001 stat:DELIVRD err:000 text:hi",
        esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
        tlvs=(Tlv(Tag.RECEIPTED_MESSAGE_ID, b"abc123\x00"), Tlv(0x1400, b"v")),
    )
    assert receipt_message_id(receipt) == "abc123"
    rewritten = rewrite_receipt_id(receipt, "sg42")
    assert rewritten.short_message.startswith(b"id:sg42 sub:001")
    assert find_tlv(rewritten.tlvs, Tag.RECEIPTED_MESSAGE_ID) == b"sg42\x00"
    assert rewritten.tlvs[1] == Tlv(0x1400, b"v")  # other TLVs untouched, in place
    assert receipt_message_id(deliver(b"id:77 stat:DELIVRD", esm_class=4)) == "77"


def submit(text: bytes, **fields: object) -> SubmitSm:
    return SubmitSm(destination_addr="447700900401", short_message=text, **fields)  # type: ignore[arg-type]


def test_footer_appended_in_place_when_it_fits() -> None:
    (out,) = footer_parts(submit(b"Sale today"), FOOTER, use_payload=False, reference=1)  # type: ignore[misc]
    assert out.short_message == b"Sale today Reply STOP to opt out"
    assert out.raw == b""  # re-encoded, not the original bytes


def test_footer_skipped_when_present_binary_or_ported() -> None:
    assert footer_parts(submit(b"x REPLY  stop to OPT OUT"), FOOTER, use_payload=False, reference=1) is None
    assert footer_parts(submit(b"\x00", data_coding=4), FOOTER, use_payload=False, reference=1) is None
    port_udh = b"\x06\x05\x04\x0b\x84\x23\xf0"
    assert (
        footer_parts(submit(port_udh + b"wap", esm_class=0x40), FOOTER, use_payload=False, reference=1)
        is None
    )


def test_long_footered_message_goes_in_message_payload_when_asked() -> None:
    (out,) = footer_parts(submit(b"x" * 150), FOOTER, use_payload=True, reference=1)  # type: ignore[misc]
    assert out.short_message == b""
    assert find_tlv(out.tlvs, Tag.MESSAGE_PAYLOAD) == b"x" * 150 + b" " + FOOTER.encode()


@given(
    st.text(alphabet=st.sampled_from("abc €{}[]~^|é🙂ж"), min_size=0, max_size=400),
    st.sampled_from([DataCoding.SMSC_DEFAULT, DataCoding.UCS2]),
)
def test_footer_parts_reassemble_to_text_plus_footer_once(text: str, data_coding: int) -> None:
    from gateway.text.encoding import can_encode, encode_text

    if not can_encode(text, data_coding):
        data_coding = DataCoding.UCS2
    parts = footer_parts(
        submit(encode_text(text, data_coding), data_coding=data_coding),
        FOOTER,
        use_payload=False,
        reference=9,
    )
    if parts is None:
        assert FOOTER.lower() in " ".join(text.lower().split())
        return
    payloads = []
    for i, part in enumerate(parts, start=1):
        if len(parts) > 1:
            udh, payload = split_udh(part.short_message)
            concat = parse_concat(udh)
            assert concat is not None and (concat.seq, concat.total, concat.reference) == (i, len(parts), 9)
            limit = 134 if part.data_coding == DataCoding.UCS2 else 153
        else:
            payload = part.short_message
            limit = 140 if part.data_coding == DataCoding.UCS2 else 160
        assert len(payload) <= limit
        payloads.append(decode_text(payload, part.data_coding))
    whole = "".join(payloads)
    assert whole.endswith(FOOTER)
    assert whole.count(FOOTER) == text.count(FOOTER) + 1
    assert whole.startswith(text)


# --- the octet path (footer_frame) answers exactly as footer_parts ---------------------------------


def decoded(pdu: SubmitSm) -> SubmitSm:
    """``pdu`` as the proxy holds it: decoded from its frame, ``raw`` set."""
    out = decode(encode(pdu))
    assert isinstance(out, SubmitSm)
    return out


@pytest.mark.parametrize(
    ("short_message", "data_coding", "expected"),
    [
        (b"Sale today", DataCoding.SMSC_DEFAULT, b"Sale today Reply STOP to opt out"),
        (b"Sale today\n", DataCoding.IA5, b"Sale today\nReply STOP to opt out"),
        (b"Sale, 20% off!", DataCoding.LATIN1, b"Sale, 20% off! Reply STOP to opt out"),
        ("Скидка".encode("utf-16-be"), DataCoding.UCS2, "Скидка Reply STOP to opt out".encode("utf-16-be")),
    ],
)
def test_footer_frame_splices_the_common_one_segment_message(
    short_message: bytes, data_coding: int, expected: bytes
) -> None:
    pdu = decoded(submit(short_message, data_coding=data_coding, tlvs=(Tlv(0x1403, b"vendor"),)))
    frame = footer_frame(pdu, FOOTER)
    assert frame is not None and frame is not pdu.raw
    out = decode(frame)
    assert isinstance(out, SubmitSm)
    assert (out.short_message, out.data_coding) == (expected, data_coding)
    assert out.tlvs == pdu.tlvs and out.sequence_number == pdu.sequence_number


@pytest.mark.parametrize(
    ("pdu", "why"),
    [
        (submit(b"Price $5"), "'$' is another character in GSM 03.38"),
        (submit(b"x" * 150), "needs a split"),
        (submit(b"caf\xe9", data_coding=DataCoding.LATIN1), "not ASCII"),
        (submit(b"\xd8\x3d", data_coding=DataCoding.UCS2), "lone surrogate"),
        (submit(concat_udh(1, 2, 1) + b"part", esm_class=EsmClass.UDHI), "UDH"),
        (submit(b"", tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"payload"),)), "message_payload"),
        (submit(b"\x00\x01", data_coding=DataCoding.BINARY_8BIT), "binary"),
    ],
)
def test_footer_frame_leaves_the_rest_to_the_text_path(pdu: SubmitSm, why: str) -> None:
    assert footer_frame(decoded(pdu), FOOTER) is None, why


def test_footer_frame_sees_a_footer_already_there() -> None:
    pdu = decoded(submit(b"Sale. reply  STOP to\nOPT OUT"))
    assert footer_frame(pdu, FOOTER) is pdu.raw


_SAFE_WORDS = ["Sale", "reply", "STOP", "to", "opt", "out", "20%", " ", "  ", "\n", "\r", ".", "x" * 40]
_OTHER_WORDS = ["$", "@", "_", "{", "~", "é", "€", "ж", "🙂", "\t", "\xa0"]
_OCTET_TEXT = st.one_of(
    st.lists(st.sampled_from(_SAFE_WORDS), max_size=30).map("".join),
    st.lists(st.sampled_from(_SAFE_WORDS + _OTHER_WORDS), max_size=30).map("".join),
)


@given(
    _OCTET_TEXT,
    st.sampled_from([DataCoding.SMSC_DEFAULT, DataCoding.IA5, DataCoding.LATIN1, DataCoding.UCS2]),
    st.sampled_from([FOOTER, "reply stop", "", "Txt STOP 2 end", "Stop: $0", "Stopp – svara STOP"]),
    st.booleans(),
)
def test_footer_frame_agrees_with_footer_parts(text: str, data_coding: int, footer: str, tlv: bool) -> None:
    try:
        short_message = encode_text(text, data_coding)
    except UnencodableError:
        short_message = text.encode("utf-8")  # octets the coding may not even read
    assume(len(short_message) <= 254)  # what short_message can carry (longer comes in message_payload)
    tlvs = (Tlv(0x1403, b"v"),) if tlv else ()
    pdu = decoded(submit(short_message, data_coding=data_coding, tlvs=tlvs))
    frame = footer_frame(pdu, footer)
    if frame is None:
        return  # the text path decides; nothing to compare
    parts = footer_parts(pdu, footer, use_payload=False, reference=1)
    if frame is pdu.raw:
        assert parts is None
    else:
        assert parts is not None and len(parts) == 1
        assert encode(parts[0]) == frame


#: Texts around the segment limits: 140 octets (IA5, Latin-1), 160 (GSM), 70 UCS2 characters.
_LONG_WORDS = [*_SAFE_WORDS, *["y" * 7, "z" * 19, "Sale today only! ", "Shop now, 20% off."] * 3]
_LONG_TEXT = st.one_of(
    st.lists(st.sampled_from(_LONG_WORDS), min_size=3, max_size=12).map("".join),
    st.lists(st.sampled_from(_LONG_WORDS + _OTHER_WORDS), min_size=3, max_size=12).map("".join),
)


@settings(max_examples=500)
@given(
    _LONG_TEXT,
    st.sampled_from([DataCoding.SMSC_DEFAULT, DataCoding.IA5, DataCoding.LATIN1, DataCoding.UCS2]),
    st.sampled_from([FOOTER, "reply stop", "", "Txt STOP 2 end", "Stop: $0", "Stopp – svara STOP"]),
    st.booleans(),
    st.integers(0, 0x1FF),
)
def test_footer_split_parts_agree_with_footer_parts(
    text: str, data_coding: int, footer: str, tlv: bool, reference: int
) -> None:
    """The octet path's split gives the text path's parts: same fields, and frames (spliced from the
    original) byte for byte the ones encoded from those fields."""
    try:
        short_message = encode_text(text, data_coding)
    except UnencodableError:
        short_message = text.encode("utf-8")
    assume(len(short_message) <= 254)
    tlvs = (Tlv(0x1403, b"v"),) if tlv else ()
    pdu = decoded(submit(short_message, data_coding=data_coding, tlvs=tlvs))
    split = footer_split_parts(pdu, footer, reference)
    if split is None:
        # Nothing to split on the octets: one segment (footer_frame's), already there, or the text path.
        frame = footer_frame(pdu, footer)
        parts = footer_parts(pdu, footer, use_payload=False, reference=reference)
        assert frame is not None or parts is None or len(parts) == 1 or _needs_text_path(pdu, footer)
        return
    parts = footer_parts(pdu, footer, use_payload=False, reference=reference)
    assert parts is not None and len(parts) == len(split) > 1
    assert split == parts
    for mine, theirs in zip(split, parts, strict=True):
        assert mine.raw == encode_fields(theirs, pdu.sequence_number)
        assert parse_concat(split_udh(mine.short_message)[0]) is not None


def _needs_text_path(pdu: SubmitSm, footer: str) -> bool:
    """True when the octet path declines: other characters, a coding change, undecodable octets."""
    return append_footer_octets(pdu.short_message, pdu.data_coding, footer, split=True) is None


def test_footer_split_parts_cut_a_campaign_message_the_footer_pushes_over() -> None:
    body = b"Spring sale! " * 11 + b"Shop now."  # 152 octets: the footer makes it 174
    pdu = decoded(submit(body, tlvs=(Tlv(0x1403, b"vendor"),)))
    assert footer_frame(pdu, FOOTER) is None
    parts = footer_split_parts(pdu, FOOTER, reference=0x1A5)
    assert parts is not None and len(parts) == 2
    udhs = [split_udh(p.short_message) for p in parts]
    assert [parse_concat(udh) for udh, _ in udhs] == [parse_concat(concat_udh(0xA5, 2, n)) for n in (1, 2)]
    assert b"".join(text for _, text in udhs) == body + b" " + FOOTER.encode()
    assert all(p.esm_class & EsmClass.UDHI and p.tlvs == pdu.tlvs for p in parts)
    assert all(decode(p.raw) == p for p in parts)
