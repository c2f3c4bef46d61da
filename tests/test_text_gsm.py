"""GSM 03.38 default alphabet, unpacked septets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text.gsm import UnencodableError, decode_gsm, encode_gsm, is_gsm

#: Extension table from 03.38 §6.2.1.1: character -> code after 0x1B.
EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

#: Spot checks of the main table, 03.38 §6.2.1 (everything that differs from ASCII, and a few more).
BASIC = {
    "@": 0x00, "£": 0x01, "$": 0x02, "¥": 0x03, "è": 0x04, "é": 0x05, "ù": 0x06, "ì": 0x07,
    "ò": 0x08, "Ç": 0x09, "\n": 0x0A, "Ø": 0x0B, "ø": 0x0C, "\r": 0x0D, "Å": 0x0E, "å": 0x0F,
    "Δ": 0x10, "_": 0x11, "Φ": 0x12, "Γ": 0x13, "Λ": 0x14, "Ω": 0x15, "Π": 0x16, "Ψ": 0x17,
    "Σ": 0x18, "Θ": 0x19, "Ξ": 0x1A, "Æ": 0x1C, "æ": 0x1D, "ß": 0x1E, "É": 0x1F,
    " ": 0x20, "¤": 0x24, "¡": 0x40, "Ä": 0x5B, "Ö": 0x5C, "Ñ": 0x5D, "Ü": 0x5E, "§": 0x5F,
    "¿": 0x60, "ä": 0x7B, "ö": 0x7C, "ñ": 0x7D, "ü": 0x7E, "à": 0x7F,
}  # fmt: skip

ASCII_SAME = "!\"#%&'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

GSM_ALPHABET = "".join(BASIC) + ASCII_SAME + "".join(EXTENSION)


def test_alphabet_has_127_basic_and_10_extension_characters() -> None:
    assert len(set(BASIC) | set(ASCII_SAME)) == 127
    assert is_gsm(GSM_ALPHABET)
    assert len(encode_gsm(GSM_ALPHABET)) == 127 + 2 * 10


@pytest.mark.parametrize(("char", "code"), sorted(BASIC.items()))
def test_basic_table(char: str, code: int) -> None:
    assert encode_gsm(char) == bytes([code])
    assert decode_gsm(bytes([code])) == char


@pytest.mark.parametrize("char", ASCII_SAME)
def test_ascii_positions_shared_with_gsm(char: str) -> None:
    assert encode_gsm(char) == char.encode("ascii")
    assert decode_gsm(char.encode("ascii")) == char


@pytest.mark.parametrize(("char", "code"), sorted(EXTENSION.items()))
def test_every_escape_round_trips(char: str, code: int) -> None:
    encoded = encode_gsm(char)
    assert encoded == bytes([0x1B, code])
    assert decode_gsm(encoded) == char
    assert decode_gsm(b"a" + encoded + b"b") == f"a{char}b"


def test_euro_is_escape_0x65() -> None:
    assert encode_gsm("€") == b"\x1b\x65"
    assert encode_gsm("5€") == b"5\x1be"


@pytest.mark.parametrize(
    ("text", "septets"),
    [
        ("", 0),
        ("hello", 5),
        ("Hello, World!", 13),
        ("a€", 3),
        ("{}", 4),
        ("[x]", 5),
        ("ΔΦΓ", 3),
        ("\f", 2),
        ("line\nbreak", 10),
        ("€" * 80, 160),
    ],
)
def test_septet_counts(text: str, septets: int) -> None:
    assert len(encode_gsm(text)) == septets


@pytest.mark.parametrize(
    ("text", "bad"),
    [("ab`c", "`"), ("Ωç😀", "ç"), ("café ☕", "☕"), ("tab\there", "\t"), ("\xa0", "\xa0")],
)
def test_unencodable_names_first_bad_character(text: str, bad: str) -> None:
    assert not is_gsm(text)
    with pytest.raises(UnencodableError) as info:
        encode_gsm(text)
    assert info.value.char == bad
    assert repr(bad) in str(info.value)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("data", "text"),
    [
        (b"\x1b", "\xa0"),  # lone trailing ESC
        (b"ok\x1b", "ok\xa0"),
        (b"\x1b\x41", "A"),  # unknown escape shows the main-table character
        (b"\x1bS\x1bTOP", "STOP"),
        (b"\x1b\x00", "@"),
        (b"\x1b\x1b", " "),  # reserved escape-to-another-table shows a space
        (b"\x1b\x1b\x1b\x65", " €"),
        (b"a\x1b\x1b\x1b", "a \xa0"),
        (b"\x80\xff", "\ufffd\ufffd"),  # not septets
        (b"", ""),
    ],
)
def test_decode_is_lenient(data: bytes, text: str) -> None:
    assert decode_gsm(data) == text


@given(st.binary(max_size=300))
def test_decode_never_raises(data: bytes) -> None:
    text = decode_gsm(data)
    # Every octet yields at most one character.
    assert len(text) <= len(data)


@given(st.text(alphabet=GSM_ALPHABET, max_size=400))
def test_round_trip(text: str) -> None:
    assert is_gsm(text)
    encoded = encode_gsm(text)
    assert all(octet < 0x80 for octet in encoded)
    assert decode_gsm(encoded) == text


@given(st.text())
def test_is_gsm_agrees_with_encode(text: str) -> None:
    try:
        encode_gsm(text)
    except UnencodableError as exc:
        assert not is_gsm(text)
        assert exc.char == next(ch for ch in text if ch not in GSM_ALPHABET)
    else:
        assert is_gsm(text)
        assert set(text) <= set(GSM_ALPHABET)
