"""SMPP addresses to E.164 on the submit path: :func:`normalize_number` and the per-account
:func:`address_normalizer`.

The rules are those of :mod:`gateway.numbers.parse` (TON, NPI, what counts as a subscriber number).
Addresses of plain ASCII digits with TON 0 or 1, which is what ESMEs send, go to the country's
:class:`~gateway.numbers.shapes.ShapeNormalizer`: the same answers in about a microsecond once it
knows the number's shape. Everything else is parsed by libphonenumber behind a cache
(``functools.lru_cache``, :data:`CACHE_SIZE` entries): libphonenumber costs tens of microseconds per
parse, a cache hit well under one. Both are safe to call from several threads.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from gateway.numbers.parse import InvalidNumber, region_code, resolve_address
from gateway.numbers.shapes import ShapeNormalizer

__all__ = ["CACHE_SIZE", "address_normalizer", "normalize_number"]

#: Entries in the cache of addresses that are not plain digits with TON 0/1.
CACHE_SIZE = 65536


@functools.lru_cache(maxsize=CACHE_SIZE)
def _normalize_cached(address: str, ton: int, default_country: str) -> str | None:
    return resolve_address(address, ton, region_code(default_country))


def normalize_number(address: str, ton: int, npi: int, default_country: str) -> str | None:
    """E.164 (``"+447700900401"``) for an SMPP address, or ``None`` if it is no subscriber number.

    ``ton``/``npi`` are the address's type of number and numbering plan (SMPP 3.4 §5.2.5-6);
    ``default_country`` is an ISO 3166 region code (``"GB"``) used for national numbers.
    Raises :class:`ValueError` only for an unknown ``default_country`` (a configuration error).
    """
    del npi  # accepted for the SMPP call sites; libphonenumber needs only the TON
    return address_normalizer(default_country)(address, ton)


@functools.lru_cache(maxsize=256)
def address_normalizer(default_country: str) -> Callable[[str, int], str | None]:
    """:func:`normalize_number` for one default country, as a function of (address, TON): what a
    caller normalising every message keeps, to spend one call per address.

    Raises :class:`ValueError` for an unknown ``default_country``.
    """
    normalize_digits = ShapeNormalizer(region_code(default_country)).normalize_digits

    def normalize(address: str, ton: int) -> str | None:
        # A campaign sends to a new number every message, so a cache would miss: addresses of plain
        # digits go to the per-shape normaliser, which answers exactly as libphonenumber would (TON 0
        # follows parse_user_number's rules, TON 1 is "+digits"). Everything else is parsed by
        # libphonenumber, behind a cache.
        if address.isdigit() and address.isascii() and (ton == 0 or (ton == 1 and address[:1] != "0")):
            try:
                return normalize_digits(address, ton == 1)
            except InvalidNumber:
                return None
        return _normalize_cached(address, int(ton), default_country)

    return normalize
