"""decode_text / encode_text / can_encode over the data_coding values."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.constants import DataCoding
from gateway.text.encoding import (
    UnencodableError,
    can_encode,
    decode_text,
    encode_text,
)
from gateway.text.gsm import decode_gsm

GSM = DataCoding.SMSC_DEFAULT
IA5 = DataCoding.IA5
LATIN1 = DataCoding.LATIN1
UCS2 = DataCoding.UCS2

GSM_ALPHABET = decode_gsm(bytes(i for i in range(0x80) if i != 0x1B)) + "\f^{}\\[~]|€"
LATIN1_ALPHABET = "".join(map(chr, range(0x100)))
ASCII_ALPHABET = LATIN1_ALPHABET[:0x80]
#: U+FF21..U+FF23, written escaped because ruff flags look-alike letters.
FULLWIDTH_ABC = "\uff21\uff22\uff23"


@pytest.mark.parametrize(
    ("data", "coding", "text"),
    [
        (b"STOP", GSM, "STOP"),
        (b"\x1be5", GSM, "€5"),
        (b"\x00\x01", GSM, "@£"),
        (b"Hello {x}", IA5, "Hello {x}"),
        (b"caf\xe9", IA5, "café"),  # >127 in IA5: read leniently as Latin-1
        (b"caf\xe9 \xa3", LATIN1, "café £"),
        (b"\x00S\x00T\x00O\x00P", UCS2, "STOP"),
        (b"\x04\x16", UCS2, "Ж"),
        (b"\xd8\x3d\xde\x00", UCS2, "😀"),  # surrogate pair combined
        (b"\x00a\xd8\x3c\xdf\x89\x00b", UCS2, "a🎉b"),
        (b"\xff\x21\xff\x22\xff\x23", UCS2, FULLWIDTH_ABC),  # full-width
        (b"\x65\xe5\x67\x2c", UCS2, "日本"),
        (b"\x00S\x00", UCS2, "S\ufffd"),  # odd length
        (b"\xd8\x3d\x00A", UCS2, "\ufffdA"),  # lone high surrogate
        (b"\xde\x00\x00A", UCS2, "\ufffdA"),  # lone low surrogate
        (b"\xd8\x3d", UCS2, "\ufffd"),  # high surrogate at the end
        (b"", UCS2, ""),
        (b"\xe9t\xe9", DataCoding.BINARY_8BIT, "été"),  # anything else: Latin-1 best effort
        (b"\xb0", DataCoding.CYRILLIC, "°"),
        (b"abc", 0xF0, "abc"),
    ],
)
def test_decode_text(data: bytes, coding: int, text: str) -> None:
    assert decode_text(data, coding) == text


@pytest.mark.parametrize(
    ("text", "coding", "data"),
    [
        ("€5", GSM, b"\x1be5"),
        ("Hi {x}", IA5, b"Hi {x}"),
        ("café", LATIN1, b"caf\xe9"),
        ("😀", UCS2, b"\xd8\x3d\xde\x00"),
        (FULLWIDTH_ABC, UCS2, b"\xff\x21\xff\x22\xff\x23"),
        ("Ж", UCS2, b"\x04\x16"),
        ("", UCS2, b""),
        ("été", DataCoding.BINARY_8BIT, b"\xe9t\xe9"),
    ],
)
def test_encode_text(text: str, coding: int, data: bytes) -> None:
    assert encode_text(text, coding) == data
    assert can_encode(text, coding)
    assert decode_text(data, coding) == text


@pytest.mark.parametrize(
    ("text", "coding", "bad"),
    [
        ("a`b", GSM, "`"),
        ("café", IA5, "é"),
        ("price €5", LATIN1, "€"),
        ("ok 😀", LATIN1, "😀"),
        ("x\ud83d", UCS2, "\ud83d"),  # a lone surrogate has no UTF-16 form
        ("Ж", DataCoding.CYRILLIC, "Ж"),  # other codings are Latin-1 best effort
    ],
)
def test_encode_text_refuses_rather_than_replaces(text: str, coding: int, bad: str) -> None:
    assert not can_encode(text, coding)
    with pytest.raises(UnencodableError) as info:
        encode_text(text, coding)
    assert info.value.char == bad


@given(st.binary(max_size=300), st.integers(min_value=0, max_value=255))
def test_decode_never_raises(data: bytes, coding: int) -> None:
    assert isinstance(decode_text(data, coding), str)


@given(st.text(max_size=300))
def test_ucs2_round_trip(text: str) -> None:
    data = encode_text(text, UCS2)
    assert len(data) == 2 * sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    assert decode_text(data, UCS2) == text


@given(st.text(alphabet=GSM_ALPHABET, max_size=300))
def test_gsm_round_trip(text: str) -> None:
    assert decode_text(encode_text(text, GSM), GSM) == text


@given(
    st.sampled_from([(IA5, ASCII_ALPHABET), (LATIN1, LATIN1_ALPHABET)]).flatmap(
        lambda pair: st.tuples(st.just(pair[0]), st.text(alphabet=pair[1], max_size=300))
    )
)
def test_8bit_round_trip(case: tuple[int, str]) -> None:
    coding, text = case
    data = encode_text(text, coding)
    assert len(data) == len(text)
    assert decode_text(data, coding) == text
