"""Message-class data_codings (issue 13, item 1): GSM 7-bit with a class (0x10-0x13, 0xF0-0xF3) and
UCS2 with a class (0x18-0x1B) are text; 8-bit data with a class (0x14-0x17, 0xF4-0xF7) stays binary.
Keyword matching reads them; the footer and splitting keep the coding group and class."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.policy.keywords import Intent, classify_mo
from gateway.policy.messages import footer_frame, footer_parts, footer_split_parts, read_text
from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import DataCoding, EsmClass
from gateway.smpp.pdu import DeliverSm, SubmitSm
from gateway.text.encoding import TEXT_CODINGS, alphabet, decode_text, encode_text, with_alphabet
from gateway.text.footer import append_footer
from gateway.text.segments import part_limit, single_limit, split_text
from gateway.text.udh import parse_concat, split_udh

FOOTER = "Reply STOP to opt out"
#: GSM 03.38 characters, basic and extension table.
GSM_CHARS = "@£$¥èéÇ\nØΔ_ΦΣ !\"#%&'()*+,-./0123456789:;<=>?ABCXYZÄÖÑÜ§¿abcxyzäöñüà^{}\\[~]|€"
GSM_CLASS = [*range(0x10, 0x14), *range(0xF0, 0xF4)]
UCS2_CLASS = list(range(0x18, 0x1C))
BINARY_CLASS = [*range(0x14, 0x18), *range(0xF4, 0xF8)]


def deliver(short_message: bytes, data_coding: int) -> DeliverSm:
    return DeliverSm(
        source_addr="447700900401",
        destination_addr="88088",
        short_message=short_message,
        data_coding=data_coding,
    )


def submit(short_message: bytes, data_coding: int, **fields: object) -> SubmitSm:
    pdu = SubmitSm(
        source_addr="88088",
        destination_addr="447700900401",
        short_message=short_message,
        data_coding=data_coding,
        **fields,  # type: ignore[arg-type]
    )
    return decode(encode(pdu))  # type: ignore[return-value]  # with its frame, as received


@pytest.mark.parametrize("data_coding", GSM_CLASS)
def test_gsm_with_a_class_is_text_and_a_stop_is_an_opt_out(data_coding: int) -> None:
    message = read_text(deliver(b"\x1b\x65 STOP", data_coding))  # a GSM escape: not read as Latin-1
    assert message is not None and message.text == "€ STOP"
    assert classify_mo(message.text).intent is Intent.OPT_OUT  # type: ignore[union-attr]


@pytest.mark.parametrize("data_coding", UCS2_CLASS)
def test_ucs2_with_a_class_is_text(data_coding: int) -> None:
    message = read_text(deliver("Stop 🙏".encode("utf-16-be"), data_coding))
    assert message is not None and message.text == "Stop 🙏"
    assert classify_mo(message.text).intent is Intent.OPT_OUT  # type: ignore[union-attr]


@pytest.mark.parametrize("data_coding", BINARY_CLASS)
def test_8bit_data_with_a_class_stays_binary(data_coding: int) -> None:
    assert data_coding not in TEXT_CODINGS
    assert read_text(deliver(b"STOP", data_coding)) is None
    assert footer_parts(submit(b"Sale", data_coding), FOOTER, use_payload=False, reference=1) is None


def test_alphabet_and_with_alphabet() -> None:
    assert [alphabet(dc) for dc in (0x10, 0x13, 0xF0, 0xF3)] == [0, 0, 0, 0]
    assert [alphabet(dc) for dc in (0x18, 0x1B)] == [8, 8]
    assert [alphabet(dc) for dc in (0, 1, 3, 8, 0x14, 0xF4)] == [0, 1, 3, 8, 0x14, 0xF4]
    assert with_alphabet(0xF1, DataCoding.UCS2) == 0x19
    assert with_alphabet(0x12, DataCoding.UCS2) == 0x1A
    assert with_alphabet(0x1B, DataCoding.UCS2) == 0x1B
    assert with_alphabet(0xF2, DataCoding.SMSC_DEFAULT) == 0xF2
    assert with_alphabet(0x03, DataCoding.UCS2) == DataCoding.UCS2


@pytest.mark.parametrize("data_coding", GSM_CLASS)
def test_limits_follow_the_alphabet(data_coding: int) -> None:
    assert single_limit(data_coding) == 160 and part_limit(data_coding) == 153
    ucs2 = with_alphabet(data_coding, 8)
    assert single_limit(ucs2) == 70 and part_limit(ucs2) == 67


@pytest.mark.parametrize("data_coding", GSM_CLASS)
def test_the_footer_keeps_the_class_on_one_segment(data_coding: int) -> None:
    pdu = submit(b"Big sale today", data_coding)
    frame = footer_frame(pdu, FOOTER)
    assert frame is not None and frame is not pdu.raw
    sent = decode(frame)
    assert isinstance(sent, SubmitSm)
    assert sent.data_coding == data_coding
    assert decode_text(sent.short_message, data_coding) == "Big sale today " + FOOTER
    parts = footer_parts(pdu, FOOTER, use_payload=False, reference=1)
    assert parts is not None and [p.data_coding for p in parts] == [data_coding]
    assert parts[0].short_message == sent.short_message


@pytest.mark.parametrize("data_coding", GSM_CLASS)
def test_the_footer_keeps_the_class_when_it_splits(data_coding: int) -> None:
    pdu = submit(b"x" * 150, data_coding)
    for parts in (
        footer_split_parts(pdu, FOOTER, 9),
        footer_parts(pdu, FOOTER, use_payload=False, reference=9),
    ):
        assert parts is not None and len(parts) == 2
        assert {p.data_coding for p in parts} == {data_coding}
        assert all(p.esm_class & EsmClass.UDHI for p in parts)
        text = ""
        for seq, part in enumerate(parts, start=1):
            udh, payload = split_udh(part.short_message)
            concat = parse_concat(udh)
            assert concat is not None and (concat.total, concat.seq) == (2, seq)
            text += decode_text(payload, data_coding)
        assert text == "x" * 150 + " " + FOOTER


@pytest.mark.parametrize(("data_coding", "ucs2"), [(0x10, 0x18), (0x11, 0x19), (0xF2, 0x1A), (0xF3, 0x1B)])
def test_a_footer_that_needs_ucs2_keeps_the_class(data_coding: int, ucs2: int) -> None:
    assert append_footer("Sale", "Répondez STOP → fin", data_coding) == ("Sale Répondez STOP → fin", ucs2)
    parts = footer_parts(submit(b"Sale", data_coding), "STOP → fin", use_payload=False, reference=1)
    assert parts is not None and [p.data_coding for p in parts] == [ucs2]
    assert decode_text(parts[0].short_message, ucs2) == "Sale STOP → fin"


@given(
    st.text(alphabet=st.sampled_from(GSM_CHARS), max_size=400),
    st.sampled_from(GSM_CLASS + UCS2_CLASS),
)
def test_class_codings_read_write_and_split_as_their_alphabet(text: str, data_coding: int) -> None:
    base = alphabet(data_coding)
    assert encode_text(text, data_coding) == encode_text(text, base)
    assert decode_text(encode_text(text, data_coding), data_coding) == text
    assert split_text(text, data_coding) == split_text(text, base)


@given(st.text(alphabet=st.sampled_from(GSM_CHARS), min_size=1, max_size=300))
def test_footer_octets_and_text_paths_agree_on_class_codings(text: str) -> None:
    for data_coding in (0x11, 0xF1):
        pdu = submit(encode_text(text, data_coding), data_coding)
        slow = footer_parts(pdu, FOOTER, use_payload=False, reference=3)
        fast = footer_split_parts(pdu, FOOTER, 3) or (
            None if (frame := footer_frame(pdu, FOOTER)) in (None, pdu.raw) else [decode(frame)]
        )
        if fast is None:
            continue
        assert slow is not None
        assert [(p.short_message, p.data_coding) for p in fast] == [
            (p.short_message, p.data_coding) for p in slow
        ]
