"""Tests for gateway.numbers: E.164 normalisation of SMPP addresses and user input."""

from __future__ import annotations

import phonenumbers
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gateway.numbers import (
    InvalidNumber,
    is_replyable,
    mask_number,
    normalize_number,
    parse_user_number,
)
from gateway.smpp.constants import Npi, Ton

UK = "+447700900401"  # Ofcom drama range: possible but not "valid" (never allocated)
US = "+14155550123"


@pytest.mark.parametrize(
    ("address", "ton", "country"),
    [
        ("+447700900401", Ton.INTERNATIONAL, "GB"),
        ("+447700900401", Ton.UNKNOWN, "GB"),
        ("447700900401", Ton.INTERNATIONAL, "GB"),
        ("07700900401", Ton.NATIONAL, "GB"),
        ("00447700900401", Ton.UNKNOWN, "GB"),
        ("07700900401", Ton.UNKNOWN, "GB"),
        # Tolerated variants.
        ("447700900401", Ton.UNKNOWN, "GB"),
        ("00447700900401", Ton.INTERNATIONAL, "GB"),
        ("7700900401", Ton.NATIONAL, "GB"),
        ("07700900401", Ton.INTERNATIONAL, "GB"),  # TON 1 with a trunk 0: read as national
        (" +44 7700-900401 ", Ton.INTERNATIONAL, "GB"),
        ("+447700900401", Ton.INTERNATIONAL, "US"),  # default country irrelevant with '+'
        ("447700900401", Ton.INTERNATIONAL, "US"),
        ("00447700900401", Ton.UNKNOWN, "US"),
    ],
)
def test_uk_spellings_are_one_subscriber(address: str, ton: Ton, country: str) -> None:
    assert normalize_number(address, ton, Npi.ISDN, country) == UK


@pytest.mark.parametrize(
    ("address", "ton", "country"),
    [
        ("+14155550123", Ton.INTERNATIONAL, "US"),
        ("+14155550123", Ton.UNKNOWN, "GB"),
        ("14155550123", Ton.INTERNATIONAL, "US"),
        ("14155550123", Ton.INTERNATIONAL, "GB"),
        ("4155550123", Ton.NATIONAL, "US"),
        ("4155550123", Ton.UNKNOWN, "US"),
        ("14155550123", Ton.UNKNOWN, "US"),
        ("14155550123", Ton.UNKNOWN, "GB"),  # too long for GB: international digits
        ("0014155550123", Ton.UNKNOWN, "GB"),
    ],
)
def test_us_spellings(address: str, ton: Ton, country: str) -> None:
    assert normalize_number(address, ton, Npi.ISDN, country) == US


def test_plain_ints_accepted_for_ton_npi() -> None:
    assert normalize_number("447700900401", 1, 1, "GB") == UK
    assert normalize_number("07700900401", 2, 8, "gb") == UK


@pytest.mark.parametrize(
    ("address", "ton"),
    [
        ("Acme", Ton.ALPHANUMERIC),
        ("447700900401", Ton.ALPHANUMERIC),  # alphanumeric TON, even if digits
        ("", Ton.UNKNOWN),
        ("   ", Ton.INTERNATIONAL),
        ("+", Ton.INTERNATIONAL),
        ("00", Ton.UNKNOWN),
        ("Acme", Ton.UNKNOWN),
        ("44770090040a", Ton.INTERNATIONAL),
        ("4477 00x", Ton.UNKNOWN),
        ("+44+7700900401", Ton.INTERNATIONAL),
        ("12", Ton.UNKNOWN),
        ("1" * 16, Ton.INTERNATIONAL),  # longer than E.164 allows
        ("9" * 40, Ton.UNKNOWN),
        ("88088", Ton.UNKNOWN),  # UK short code
        ("88088", Ton.NETWORK_SPECIFIC),
        ("88088", Ton.ABBREVIATED),
        ("88088", Ton.NATIONAL),
        ("88088", Ton.INTERNATIONAL),
        ("60060", Ton.UNKNOWN),
        ("7700900401", Ton.INTERNATIONAL),  # +77 ...: too short for Russia/Kazakhstan
        ("\u0660\u0667\u0667", Ton.UNKNOWN),  # non-ASCII digits are not SMPP addresses
        ("4910000000000000", Ton.UNKNOWN),  # possible for libphonenumber, but 16 digits
        ("49000000000", Ton.UNKNOWN),  # zero run: its E.164 form would not parse back the same
    ],
)
def test_not_a_subscriber_number(address: str, ton: Ton) -> None:
    assert normalize_number(address, ton, Npi.ISDN, "GB") is None


def test_network_specific_with_valid_full_number() -> None:
    # TON 3/6 are short codes unless the digits are a valid (allocated) number.
    assert normalize_number("447911123456", Ton.NETWORK_SPECIFIC, Npi.ISDN, "GB") == "+447911123456"
    assert normalize_number("447700900401", Ton.ABBREVIATED, Npi.ISDN, "GB") is None


def test_unknown_default_country_is_a_config_error() -> None:
    with pytest.raises(ValueError, match="default country"):
        normalize_number("07700900401", Ton.NATIONAL, Npi.ISDN, "XX")
    with pytest.raises(ValueError, match="default country"):
        parse_user_number("07700900401", "England")


@pytest.mark.parametrize(
    ("text", "country", "expected"),
    [
        ("+44 7700 900401", "GB", UK),
        ("+44 7700 900401", "US", UK),
        ("(415) 555-0123", "US", US),
        ("415.555.0123", "US", US),
        ("00447700900401", "GB", UK),
        ("00447700900401", "US", UK),
        ("07700900401", "GB", UK),
        ("07700 900 401", "GB", UK),
        ("447700900401", "GB", UK),  # spreadsheet-style, '+' lost
        ("14155550123", "GB", US),
        ("+1 (415) 555-0123", "DE", US),
        ("\uff14\uff11\uff15\uff15\uff15\uff15\uff10\uff11\uff12\uff13", "US", US),  # full width
    ],
)
def test_parse_user_number(text: str, country: str, expected: str) -> None:
    assert parse_user_number(text, country) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("hello", "letters"),
        ("1-800-FLOWERS", "letters"),
        ("07700 900401 ext 2", "letters"),
        ("+44 7700 900401 #", "unexpected character"),
        ("+1+2", "'\\+' may only come first"),
        ("88088", "short code"),
        ("+44 7700", "too short"),
        ("+4477009004011111", "too long"),
        ("+999 1234", "not a phone number"),
        ("1" * 40, "not a phone number"),
    ],
)
def test_parse_user_number_rejects(text: str, message: str) -> None:
    with pytest.raises(InvalidNumber, match=message):
        parse_user_number(text, "GB")


def test_invalid_number_is_value_error() -> None:
    assert issubclass(InvalidNumber, ValueError)


@pytest.mark.parametrize(
    ("address", "ton", "expected"),
    [
        ("+447700900401", Ton.INTERNATIONAL, True),
        ("+44 7700 900401", Ton.INTERNATIONAL, True),  # same separators as normalize_number
        ("447700900401", Ton.UNKNOWN, True),
        ("88088", Ton.NETWORK_SPECIFIC, True),  # short codes can be replied to
        ("88088", Ton.UNKNOWN, True),
        ("Acme", Ton.ALPHANUMERIC, False),
        ("88088", Ton.ALPHANUMERIC, False),
        ("Acme", Ton.UNKNOWN, False),
        ("Shop24", Ton.UNKNOWN, False),
        ("", Ton.UNKNOWN, False),
        ("+", Ton.INTERNATIONAL, False),
        ("\u0660\u0667", Ton.UNKNOWN, False),
    ],
)
def test_is_replyable(address: str, ton: Ton, expected: bool) -> None:
    assert is_replyable(address, ton) is expected


def test_mask_number() -> None:
    assert mask_number(UK) == "+447*******01"
    assert mask_number(US) == "+141******23"
    assert len(mask_number(UK)) == len(UK)
    assert mask_number("88088") == "***88"
    assert mask_number("") == ""
    assert mask_number("+1") == "+*"
    assert "7700900" not in mask_number(UK)


# ------------------------------------------------------------------------------------------------
# Properties

addresses = st.one_of(
    st.text(max_size=30),
    st.text(st.sampled_from("0123456789+ "), max_size=25),
    st.from_regex(r"\A(\+|00)?[0-9]{1,18}\Z"),
)


@settings(max_examples=300)
@given(address=addresses, ton=st.integers(0, 255), npi=st.integers(0, 255))
def test_property_normalize_never_raises(address: str, ton: int, npi: int) -> None:
    result = normalize_number(address, ton, npi, "GB")
    if result is not None:
        assert result.startswith("+")
        assert result[1:].isdigit() and 7 <= len(result) <= 16  # E.164: at most 15 digits
        # A normalised number is a fixed point.
        assert normalize_number(result, Ton.INTERNATIONAL, Npi.ISDN, "US") == result
        assert is_replyable(address, ton)


@settings(max_examples=200)
@given(st.text(max_size=30))
def test_property_parse_user_number_only_raises_invalid_number(text: str) -> None:
    try:
        result = parse_user_number(text, "GB")
    except InvalidNumber:
        return
    assert result.startswith("+") and result[1:].isdigit()


@settings(max_examples=100)
@given(st.from_regex(r"\A[0-9]{9}\Z"))
def test_property_gb_mobile_spellings_agree(rest: str) -> None:
    e164 = "+447" + rest
    assume(phonenumbers.is_valid_number(phonenumbers.parse(e164)))
    spellings = [
        normalize_number(e164, Ton.INTERNATIONAL, Npi.ISDN, "GB"),
        normalize_number(e164[1:], Ton.INTERNATIONAL, Npi.ISDN, "GB"),
        normalize_number("07" + rest, Ton.NATIONAL, Npi.ISDN, "GB"),
        normalize_number("00" + e164[1:], Ton.UNKNOWN, Npi.ISDN, "GB"),
        normalize_number("07" + rest, Ton.UNKNOWN, Npi.ISDN, "GB"),
        normalize_number(e164[1:], Ton.UNKNOWN, Npi.ISDN, "GB"),
        parse_user_number("07" + rest[:3] + " " + rest[3:], "GB"),
    ]
    assert spellings == [e164] * len(spellings)


# --- The per-shape fast path on the wire ---------------------------------------------------------


def _libphonenumber_only(address: str, ton: int, country: str) -> str | None:
    from gateway.numbers.parse import format_e164, region_code, resolve, split_address

    split = split_address(address)
    if split is None:
        return None
    num = resolve(split[0], split[1], ton, region_code(country))
    return None if num is None else format_e164(num)


@given(
    st.one_of(
        st.from_regex(r"447[0-9]{9}", fullmatch=True),
        st.from_regex(r"1[2-9][0-9]{9}", fullmatch=True),
        st.from_regex(r"0[0-9]{6,12}", fullmatch=True),
        st.from_regex(r"[0-9]{3,16}", fullmatch=True),
    ),
    st.sampled_from([0, 1]),
    st.sampled_from(["GB", "US", "DE"]),
)
def test_wire_fast_path_agrees_with_libphonenumber(digits: str, ton: int, country: str) -> None:
    from gateway.numbers.wire import address_normalizer

    assert address_normalizer(country)(digits, ton) == _libphonenumber_only(digits, ton, country)
