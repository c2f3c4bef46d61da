"""User Data Header splitting and concatenation IEs."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.text.udh import Concat, concat_udh, parse_concat, split_udh

#: Application port addressing, 16-bit (IEI 0x05), often sent alongside concat (WAP push etc.).
PORTS = bytes.fromhex("05040b8423f0")


@pytest.mark.parametrize(
    ("message", "udh", "payload"),
    [
        (bytes.fromhex("050003a70201") + b"hello", bytes.fromhex("050003a70201"), b"hello"),
        (bytes.fromhex("06080401f40302") + b"x", bytes.fromhex("06080401f40302"), b"x"),
        (bytes.fromhex("050003a70201"), bytes.fromhex("050003a70201"), b""),
        (b"\x00abc", b"\x00", b"abc"),
    ],
)
def test_split_udh(message: bytes, udh: bytes, payload: bytes) -> None:
    assert split_udh(message) == (udh, payload)


@pytest.mark.parametrize("message", [b"", b"\x05\x00\x03\xa7\x02", b"\xff" + b"x" * 100, b"\x01"])
def test_split_udh_rejects_overrun(message: bytes) -> None:
    with pytest.raises(ValueError):
        split_udh(message)


@pytest.mark.parametrize(
    ("udh", "expected"),
    [
        ("050003a70301", Concat(0xA7, 3, 1, 8)),
        ("06080401f40302", Concat(0x01F4, 3, 2, 16)),
        ("0608040000ffff", Concat(0, 255, 255, 16)),
        # other IEs before and after the concat IE
        ("0b" + PORTS.hex() + "0003a70201", Concat(0xA7, 2, 1, 8)),
        ("0c" + PORTS.hex() + "080412340201", Concat(0x1234, 2, 1, 16)),
        ("0b0003a70201" + PORTS.hex(), Concat(0xA7, 2, 1, 8)),
        ("090a020001" + "0003070302", Concat(7, 3, 2, 8)),  # text formatting IE first
        # repeated concat IEs: the last valid one wins (23.040 §9.2.3.24)
        ("0a000301020100030903" + "03", Concat(9, 3, 3, 8)),
        ("0a0003090303" + "00030a0000", Concat(9, 3, 3, 8)),  # last one invalid, ignored
        # no concat IE, or an invalid one
        ("00", None),
        ("", None),
        (PORTS.hex(), None),
        ("050003a70200", None),  # seq 0
        ("050003a70203", None),  # seq > total
        ("050003a70000", None),  # total 0
        ("0400020102", None),  # wrong IEL for IEI 0x00
        ("050003a702", None),  # UDHL claims more than given
        ("0a0003a7", None),  # truncated IE
        ("03000307" + "0201", None),  # UDHL ends inside the IE
    ],
)
def test_parse_concat(udh: str, expected: Concat | None) -> None:
    assert parse_concat(bytes.fromhex(udh)) == expected


@pytest.mark.parametrize(
    ("args", "udh"),
    [
        ((0xA7, 3, 1, 8), "050003a70301"),
        ((0, 1, 1, 8), "050003000101"),
        ((255, 255, 255, 8), "050003ffffff"),
        ((0x01F4, 3, 2, 16), "06080401f40302"),
        ((0xFFFF, 2, 2, 16), "060804ffff0202"),
    ],
)
def test_concat_udh(args: tuple[int, int, int, int], udh: str) -> None:
    assert concat_udh(*args) == bytes.fromhex(udh)


def test_concat_udh_defaults_to_8_bit_reference() -> None:
    assert concat_udh(1, 2, 1) == bytes.fromhex("050003010201")


@pytest.mark.parametrize(
    "args",
    [
        (256, 2, 1, 8),
        (-1, 2, 1, 8),
        (0x10000, 2, 1, 16),
        (1, 2, 0, 8),
        (1, 2, 3, 8),
        (1, 256, 1, 8),
        (1, 0, 0, 8),
        (1, 2, 1, 7),
        (1, 2, 1, 32),
    ],
)
def test_concat_udh_rejects_bad_values(args: tuple[int, int, int, int]) -> None:
    with pytest.raises(ValueError):
        concat_udh(*args)
    with pytest.raises(ValueError):
        Concat(*args)


def test_concat_is_frozen() -> None:
    concat = Concat(1, 2, 1, 8)
    with pytest.raises(AttributeError):
        concat.seq = 2  # type: ignore[misc]


other_ie = st.tuples(
    st.integers(min_value=0x01, max_value=0xFF).filter(lambda iei: iei != 0x08),
    st.binary(max_size=6),
).map(lambda ie: bytes([ie[0], len(ie[1])]) + ie[1])


@st.composite
def concats(draw: st.DrawFn) -> Concat:
    bits = draw(st.sampled_from([8, 16]))
    total = draw(st.integers(min_value=1, max_value=255))
    return Concat(
        reference=draw(st.integers(min_value=0, max_value=(1 << bits) - 1)),
        total=total,
        seq=draw(st.integers(min_value=1, max_value=total)),
        ref_bits=bits,
    )


@given(concats(), st.lists(other_ie, max_size=3), st.lists(other_ie, max_size=3), st.binary())
def test_round_trip_among_other_ies(
    concat: Concat, before: list[bytes], after: list[bytes], payload: bytes
) -> None:
    ie = concat_udh(concat.reference, concat.total, concat.seq, concat.ref_bits)[1:]
    body = b"".join(before) + ie + b"".join(after)
    message = bytes([len(body)]) + body + payload
    udh, rest = split_udh(message)
    assert rest == payload
    assert parse_concat(udh) == concat


@given(st.binary(max_size=40))
def test_parse_concat_never_raises(udh: bytes) -> None:
    result = parse_concat(udh)
    if result is not None:
        assert 1 <= result.seq <= result.total
