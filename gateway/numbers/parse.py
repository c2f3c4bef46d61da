"""Phone numbers to E.164 (``+<digits>``): the rules, for SMPP addresses and numbers people type.

Suppression (opt-out) records are keyed by subscriber numbers in E.164, so every spelling of one
subscriber (``+447700900401``, ``447700900401``, ``00447700900401``, ``07700900401``) must come out
the same. Parsing uses Google's libphonenumber port (:mod:`phonenumbers`), through its public API.
This module is the exact (reference) path; :mod:`gateway.numbers.wire` applies it to SMPP addresses
and :mod:`gateway.numbers.shapes` answers repeated number shapes faster with the same results.

Decisions the caller must know
    * A number is accepted when libphonenumber says it is *possible* for its country (right number
      of digits), not only when it is *valid* (allocated): reserved test ranges such as the UK's
      07700 900xxx must work. "Possible only locally" (a US number without its area code) is
      rejected, since it cannot be written in E.164, and so is anything over 15 digits.
    * :func:`resolve_address` gives ``None`` for anything that is not a subscriber number:
      alphanumeric senders (TON 5), empty strings, letters, short codes (``88088``), too short or too
      long digit strings. Short codes are still valid *reply* addresses; see :func:`is_replyable`.
    * TON rules: TON 1 is international (a leading ``+`` or ``00`` is tolerated; a single leading
      ``0`` is read as a national number, since no country code starts with 0). TON 2 (national)
      and 4 (subscriber number) are parsed with ``default_country`` first, then as international
      digits. TON 0 (unknown) and reserved values: ``+``/``00`` means international; otherwise a
      *valid* national reading is preferred, then a valid international one, then a possible
      national one, then a possible international one, and a known short code of the default
      country gives ``None``. TON 3 (network specific) and 6 (abbreviated) are short codes unless
      the digits are a valid full number. The NPI is not used.
"""

from __future__ import annotations

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumber, PhoneNumberFormat, ValidationResult

from gateway.smpp.constants import Ton

__all__ = [
    "SEPARATORS",
    "InvalidNumber",
    "format_e164",
    "is_replyable",
    "mask_number",
    "parse_user_number",
    "region_code",
    "resolve",
    "resolve_address",
    "split_address",
]

#: Digit strings longer than this are rejected before parsing (E.164 allows 15 digits; the slack
#: covers national trunk and international call prefixes).
_MAX_DIGITS = 20
#: E.164 numbers have at most 15 digits (ITU-T E.164 §6.1).
_E164_MAX_DIGITS = 15
#: Short codes have at most this many digits.
_MAX_SHORT_CODE = 8
# Separators tolerated inside an address or user input.
SEPARATORS = str.maketrans("", "", " \t-.()/\u00a0")

_REASONS = {
    ValidationResult.TOO_SHORT: "too short",
    ValidationResult.TOO_LONG: "too long",
    ValidationResult.INVALID_LENGTH: "wrong number of digits",
    ValidationResult.INVALID_COUNTRY_CODE: "unknown country calling code",
    ValidationResult.IS_POSSIBLE_LOCAL_ONLY: "too short (a local number without its area code?)",
}


class InvalidNumber(ValueError):
    """User input (CLI, admin API, CSV import) that is not a phone number."""


def region_code(default_country: str) -> str:
    """The ISO 3166 region code for ``default_country``; ValueError if libphonenumber has none."""
    region = default_country.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"unknown default country {default_country!r} (want e.g. 'GB', 'US')")
    return region


def split_address(address: str) -> tuple[bool, str] | None:
    """(international?, ASCII digits) of an address, or None if it is not a digit string."""
    s = address.strip().translate(SEPARATORS)
    plus = s.startswith("+")
    if plus:
        s = s[1:]
    if not s or not s.isascii() or not s.isdigit() or len(s) > _MAX_DIGITS:
        return None
    if not plus and s.startswith("00"):
        plus, s = True, s[2:]
        if not s:
            return None
    return plus, s


def _parse(number: str, region: str | None) -> PhoneNumber | None:
    try:
        return phonenumbers.parse(number, region)
    except NumberParseException:
        return None


def _possible(num: PhoneNumber | None) -> bool:
    if num is None:
        return False
    if phonenumbers.is_possible_number_with_reason(num) != ValidationResult.IS_POSSIBLE:
        return False
    zeros = (num.number_of_leading_zeros or 1) if num.italian_leading_zero else 0
    if len(str(num.country_code)) + zeros + len(str(num.national_number)) > _E164_MAX_DIGITS:
        return False  # libphonenumber allows a few longer national numbers; E.164 does not
    if num.italian_leading_zero:
        # Degenerate zero runs ("+49000000000") can format to an E.164 string that parses back
        # differently; accept a leading-zero number only if its E.164 form is a fixed point.
        e164 = format_e164(num)
        again = _parse(e164, None)
        return again is not None and format_e164(again) == e164
    return True


def _valid(num: PhoneNumber | None) -> bool:
    return num is not None and _possible(num) and bool(phonenumbers.is_valid_number(num))


def _international(digits: str) -> PhoneNumber | None:
    return None if digits.startswith("0") else _parse("+" + digits, None)


def resolve(plus: bool, digits: str, ton: int, region: str) -> PhoneNumber | None:
    """Pick the reading of a digit string that the TON rules allow (see module docstring)."""
    if plus:
        intl = _international(digits)
        return intl if _possible(intl) else None
    if ton == Ton.INTERNATIONAL:
        if digits.startswith("0"):
            nat = _parse(digits, region)
            return nat if _possible(nat) else None
        intl = _international(digits)
        return intl if _possible(intl) else None
    nat = _parse(digits, region)
    if ton in (Ton.NATIONAL, Ton.SUBSCRIBER_NUMBER):
        if _possible(nat):
            return nat
        intl = _international(digits)
        return intl if _possible(intl) else None
    if ton in (Ton.NETWORK_SPECIFIC, Ton.ABBREVIATED):
        if _valid(nat):
            return nat
        intl = _international(digits)
        return intl if _valid(intl) else None
    # UNKNOWN and reserved values. Only when both readings are possible does validity decide
    # (is_valid_number is the costly check), and a valid reading beats a merely possible one.
    intl = _international(digits)
    nat_ok, intl_ok = _possible(nat), _possible(intl)
    if nat_ok and intl_ok:
        if nat == intl or _valid(nat) or not _valid(intl):
            return nat
        return intl
    if nat_ok and nat is not None:
        if (
            len(digits) <= _MAX_SHORT_CODE
            and phonenumbers.is_valid_short_number_for_region(nat, region)
            and not phonenumbers.is_valid_number(nat)
        ):
            return None
        return nat
    return intl if intl_ok else None


def format_e164(num: PhoneNumber) -> str:
    return phonenumbers.format_number(num, PhoneNumberFormat.E164)


def resolve_address(address: str, ton: int, region: str) -> str | None:
    """E.164 for an SMPP address in ``region`` (a code :func:`region_code` accepted), or None."""
    if ton == Ton.ALPHANUMERIC:
        return None
    split = split_address(address)
    if split is None:
        return None
    num = resolve(split[0], split[1], ton, region)
    return None if num is None else format_e164(num)


def parse_user_number(text: str, default_country: str) -> str:
    """Parse a phone number typed or imported by a person; return E.164.

    Accepts the usual spellings: ``"+44 7700 900401"``, ``"(415) 555-0123"``,
    ``"00447700900401"``, ``"07700900401"``, and international digits without ``+``
    (``"447700900401"``, as spreadsheets often store them). Numbers are resolved like an SMPP
    address with TON 0, so both paths give the same E.164 for the same subscriber.
    Raises :class:`InvalidNumber` with a readable reason.
    """
    region = region_code(default_country)
    s = text.strip()
    if not s:
        raise InvalidNumber("empty phone number")
    if any(c.isalpha() for c in s):
        raise InvalidNumber(f"{text!r} is not a phone number: it contains letters")
    compact = s.translate(SEPARATORS)
    if "+" in compact[1:]:
        raise InvalidNumber(f"{text!r} is not a phone number: '+' may only come first")
    bad = [c for c in compact.lstrip("+") if not c.isdecimal()]
    if bad:
        raise InvalidNumber(f"{text!r} is not a phone number: unexpected character {bad[0]!r}")
    # Full-width or Arabic-Indic digits: let libphonenumber map them to ASCII first.
    compact = phonenumbers.normalize_digits_only(compact)
    plus = s.lstrip().startswith("+")
    split = split_address(("+" if plus else "") + compact)
    if split is None:
        raise InvalidNumber(f"{text!r} is not a phone number: too long or empty")
    num = resolve(split[0], split[1], Ton.UNKNOWN, region)
    if num is not None:
        return format_e164(num)
    # Explain the most likely reading.
    probe = _international(split[1]) if split[0] else _parse(split[1], region)
    if probe is None:
        raise InvalidNumber(f"{text!r} is not a phone number")
    if phonenumbers.is_valid_short_number_for_region(probe, region):
        raise InvalidNumber(f"{text!r} is a short code, not a subscriber number")
    reason = _REASONS.get(phonenumbers.is_possible_number_with_reason(probe), "not possible")
    cc = probe.country_code or 0
    where = phonenumbers.region_code_for_country_code(cc)
    raise InvalidNumber(f"{text!r} is not a phone number: {reason} for {where} (+{cc})")


def is_replyable(address: str, ton: int) -> bool:
    """Whether a message can be sent back to ``address``.

    False for alphanumeric senders (TON 5), empty addresses and anything with letters or other
    non-digits; True for digit strings with an optional leading ``+`` (or ``00``), phone numbers
    and short codes alike. The separators :func:`normalize_number` tolerates (spaces, ``-``,
    ``.``, parentheses) are tolerated here too, so every address that normalises is replyable.
    """
    return ton != Ton.ALPHANUMERIC and split_address(address) is not None


def mask_number(e164: str) -> str:
    """A number for logs: ``"+447700900401"`` -> ``"+447*******01"``.

    Keeps the ``+``, the first three digits (country code, roughly) and the last two; the length is
    preserved. Short strings keep only their last digit(s); never raises.
    """
    plus = "+" if e164.startswith("+") else ""
    digits = e164[len(plus) :]
    n = len(digits)
    if n > 5:
        return plus + digits[:3] + "*" * (n - 5) + digits[-2:]
    if n > 2:
        return plus + "*" * (n - 2) + digits[-2:]
    return plus + "*" * n
