"""Length limits and splitting into concatenated parts."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.smpp.constants import DataCoding
from gateway.text.encoding import UnencodableError, decode_text
from gateway.text.gsm import decode_gsm
from gateway.text.segments import (
    encoded_length_units,
    part_limit,
    single_limit,
    split_text,
)

GSM = DataCoding.SMSC_DEFAULT
IA5 = DataCoding.IA5
LATIN1 = DataCoding.LATIN1
UCS2 = DataCoding.UCS2

GSM_ALPHABET = decode_gsm(bytes(i for i in range(0x80) if i != 0x1B)) + "\f^{}\\[~]|€"
EMOJI = "😀"  # U+1F600, UTF-16 D83D DE00
EMOJI_UTF16 = b"\xd8\x3d\xde\x00"


@pytest.mark.parametrize(
    ("coding", "single", "part8", "part16"),
    [(GSM, 160, 153, 152), (UCS2, 70, 67, 66), (IA5, 140, 134, 133), (LATIN1, 140, 134, 133)],
)
def test_limits(coding: int, single: int, part8: int, part16: int) -> None:
    assert single_limit(coding) == single
    assert part_limit(coding) == part8
    assert part_limit(coding, 8) == part8
    assert part_limit(coding, 16) == part16


@pytest.mark.parametrize(
    ("text", "coding", "units"),
    [
        ("", GSM, 0),
        ("abc", GSM, 3),
        ("a€", GSM, 3),
        ("{[]}", GSM, 8),
        ("Ж", UCS2, 1),
        (EMOJI, UCS2, 2),
        ("a" + EMOJI + "b", UCS2, 4),
        ("café", LATIN1, 4),
        ("a{b}", IA5, 4),
    ],
)
def test_encoded_length_units(text: str, coding: int, units: int) -> None:
    assert encoded_length_units(text, coding) == units


def test_unencodable_text_raises() -> None:
    with pytest.raises(UnencodableError):
        split_text("Ж", GSM)
    with pytest.raises(UnencodableError):
        split_text("€", LATIN1)
    with pytest.raises(UnencodableError):
        encoded_length_units("é", IA5)


# --- GSM boundaries ---------------------------------------------------------------------------


def test_gsm_160_is_one_part() -> None:
    text = "a" * 160
    assert split_text(text, GSM) == [b"a" * 160]


def test_gsm_161_is_153_plus_8() -> None:
    text = "a" * 161
    parts = split_text(text, GSM)
    assert [len(p) for p in parts] == [153, 8]


def test_gsm_escapes_count_two_toward_single_limit() -> None:
    assert len(split_text("€" * 80, GSM)) == 1
    assert len(split_text("€" * 80 + "a", GSM)) == 2
    assert len(split_text("a" * 158 + "€", GSM)) == 1
    assert len(split_text("a" * 159 + "€", GSM)) == 2


def test_gsm_escape_at_septet_153_moves_to_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 10  # the escape would occupy septets 153 and 154
    parts = split_text(text, GSM)
    assert parts == [b"a" * 152, b"\x1be" + b"b" * 10]


def test_gsm_escape_ending_at_septet_153_stays() -> None:
    text = "a" * 151 + "€" + "b" * 10
    parts = split_text(text, GSM)
    assert parts == [b"a" * 151 + b"\x1be", b"b" * 10]


def test_gsm_all_escapes_split_evenly() -> None:
    parts = split_text("{" * 100, GSM)  # 200 septets
    assert [len(p) for p in parts] == [152, 48]
    assert all(p.startswith(b"\x1b(") for p in parts)


def test_gsm_16_bit_reference_parts() -> None:
    assert [len(p) for p in split_text("a" * 161, GSM, ref_bits=16)] == [152, 9]
    parts = split_text("a" * 151 + "€" + "b" * 10, GSM, ref_bits=16)
    assert parts == [b"a" * 151, b"\x1be" + b"b" * 10]


# --- UCS2 boundaries --------------------------------------------------------------------------


def test_ucs2_70_is_one_part_71_is_two() -> None:
    assert split_text("Ж" * 70, UCS2) == ["Ж".encode("utf-16-be") * 70]
    parts = split_text("Ж" * 71, UCS2)
    assert [len(p) for p in parts] == [134, 8]


def test_ucs2_emoji_counts_two_units_for_single_limit() -> None:
    assert len(split_text("Ж" * 68 + EMOJI, UCS2)) == 1
    assert len(split_text("Ж" * 69 + EMOJI, UCS2)) == 2


def test_ucs2_emoji_at_67_unit_boundary_moves_whole() -> None:
    text = "Ж" * 66 + EMOJI + "Ж" * 10  # the pair would occupy units 67 and 68
    parts = split_text(text, UCS2)
    assert len(parts[0]) == 132
    assert parts[1].startswith(EMOJI_UTF16)
    assert [decode_text(p, UCS2) for p in parts] == ["Ж" * 66, EMOJI + "Ж" * 10]


def test_ucs2_emoji_ending_at_unit_67_stays() -> None:
    text = "Ж" * 65 + EMOJI + "Ж" * 10
    parts = split_text(text, UCS2)
    assert [decode_text(p, UCS2) for p in parts] == ["Ж" * 65 + EMOJI, "Ж" * 10]


def test_ucs2_16_bit_reference_parts() -> None:
    assert [len(p) for p in split_text("Ж" * 71, UCS2, ref_bits=16)] == [132, 10]
    parts = split_text("Ж" * 65 + EMOJI + "Ж" * 5, UCS2, ref_bits=16)
    assert [decode_text(p, UCS2) for p in parts] == ["Ж" * 65, EMOJI + "Ж" * 5]


def test_ucs2_all_emoji() -> None:
    parts = split_text(EMOJI * 40, UCS2)  # 80 units
    assert [len(p) for p in parts] == [132, 28]


# --- 8-bit ------------------------------------------------------------------------------------


@pytest.mark.parametrize("coding", [IA5, LATIN1])
def test_8bit_boundaries(coding: int) -> None:
    assert split_text("e" * 140, coding) == [b"e" * 140]
    assert [len(p) for p in split_text("e" * 141, coding)] == [134, 7]
    assert [len(p) for p in split_text("e" * 141, coding, ref_bits=16)] == [133, 8]


def test_empty_text_is_one_empty_part() -> None:
    assert split_text("", GSM) == [b""]
    assert split_text("", UCS2) == [b""]


# --- properties -------------------------------------------------------------------------------


def long_texts(chars: st.SearchStrategy[str], max_run: int) -> st.SearchStrategy[str]:
    """Random head + a run of one character + random tail: crosses part boundaries at every
    alignment, which plain st.text() rarely reaches."""
    return st.builds(
        lambda head, char, run, tail: head + char * run + tail,
        st.text(alphabet=chars, max_size=20),
        chars,
        st.integers(min_value=0, max_value=max_run),
        st.text(alphabet=chars, max_size=20),
    )


GSM_CHARS = st.sampled_from(GSM_ALPHABET)
IA5_CHARS = st.characters(max_codepoint=0x7F)
LATIN1_CHARS = st.characters(max_codepoint=0xFF)
ANY_CHARS = st.characters(exclude_categories=["Cs"])
#: (data_coding, text the coding can hold), short and long.
coded_texts = st.one_of(
    st.tuples(st.just(GSM), st.text(alphabet=GSM_ALPHABET)),
    st.tuples(st.just(GSM), long_texts(GSM_CHARS, 340)),
    st.tuples(st.just(GSM), long_texts(st.sampled_from("a€{"), 340)),
    st.tuples(st.just(IA5), long_texts(IA5_CHARS, 300)),
    st.tuples(st.just(LATIN1), long_texts(LATIN1_CHARS, 300)),
    st.tuples(st.just(UCS2), st.text()),
    st.tuples(st.just(UCS2), long_texts(ANY_CHARS, 150)),
    st.tuples(st.just(UCS2), long_texts(st.sampled_from("Ж" + EMOJI), 150)),
)


def check_parts(parts: list[bytes], text: str, coding: int, ref_bits: int = 8) -> None:
    """Every invariant a split must satisfy; shared with the footer properties."""
    unit = 2 if coding == UCS2 else 1
    if encoded_length_units(text, coding) <= single_limit(coding):  # fits one message
        assert len(parts) == 1
    else:
        assert len(parts) >= 2
    limit = single_limit(coding) if len(parts) == 1 else part_limit(coding, ref_bits)
    decoded = [decode_text(part, coding) for part in parts]
    for index, part in enumerate(parts):
        assert len(part) % unit == 0
        assert len(part) // unit <= limit
        # Each part decodes on its own to the next slice of the text: nothing is split.
        assert text.startswith("".join(decoded[: index + 1]))
        if coding == GSM:
            assert not part.endswith(b"\x1b")
        if coding == UCS2 and part:
            assert not 0xDC <= part[0] <= 0xDF
            assert not 0xD8 <= part[-2] <= 0xDB
        if index + 1 < len(parts):
            # As full as possible: the next character would not have fitted.
            following = encoded_length_units(decoded[index + 1][0], coding)
            assert len(part) // unit + following > limit
    assert "".join(decoded) == text


@given(coded_texts, st.sampled_from([8, 16]))
def test_split_properties(case: tuple[int, str], ref_bits: int) -> None:
    coding, text = case
    parts = split_text(text, coding, ref_bits)
    check_parts(parts, text, coding, ref_bits)
    assert sum(len(p) for p in parts) == len(b"".join(parts))
    assert encoded_length_units(text, coding) * (2 if coding == UCS2 else 1) == len(b"".join(parts))
