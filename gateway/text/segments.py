"""Message length limits and splitting into concatenated parts.

Units depend on the coding's alphabet: septets for GSM (0, and 0x10-0x13/0xF0-0xF3 with a message
class; extension characters count two), UTF-16 code units for UCS2 (8, and 0x18-0x1B) and octets
for everything else. A concat UDH takes 6 octets with an 8-bit reference and 7 with a 16-bit one,
leaving 153/134/67 or 152/133/66 units per part. Splitting never separates a GSM escape from its
code or the halves of a surrogate pair, and fills each part greedily.
"""

from __future__ import annotations

from gateway.smpp.constants import DataCoding
from gateway.text.encoding import alphabet, encode_text
from gateway.text.gsm import ESC

__all__ = [
    "encoded_length_units",
    "part_limit",
    "single_limit",
    "split_octets",
    "split_text",
]

_GSM = DataCoding.SMSC_DEFAULT
_UCS2 = DataCoding.UCS2

#: Units in a message without UDH: GSM septets, UCS2 code units, other octets.
_SINGLE: dict[int, int] = {_GSM: 160, _UCS2: 70}
_SINGLE_OCTETS = 140
#: Units per part with an 8-bit / 16-bit reference concat UDH.
_PART: dict[int, dict[int, int]] = {8: {_GSM: 153, _UCS2: 67}, 16: {_GSM: 152, _UCS2: 66}}
_PART_OCTETS = {8: 134, 16: 133}


def single_limit(data_coding: int) -> int:
    """Units that fit in one message without a UDH."""
    return _SINGLE.get(alphabet(data_coding), _SINGLE_OCTETS)


def part_limit(data_coding: int, ref_bits: int = 8) -> int:
    """Units that fit in one part after a concat UDH with an 8- or 16-bit reference."""
    if ref_bits not in _PART:
        raise ValueError(f"ref_bits must be 8 or 16, not {ref_bits}")
    return _PART[ref_bits].get(alphabet(data_coding), _PART_OCTETS[ref_bits])


def _unit_size(data_coding: int) -> int:
    return 2 if alphabet(data_coding) == _UCS2 else 1


def encoded_length_units(text: str, data_coding: int) -> int:
    """Length of ``text`` in the coding's units; raises UnencodableError if it cannot be encoded."""
    return len(encode_text(text, data_coding)) // _unit_size(data_coding)


def _cut(data: bytes, stop: int, data_coding: int) -> int:
    """Move a cut at ``stop`` back so it does not split an escape or surrogate pair."""
    data_coding = alphabet(data_coding)
    if data_coding == _GSM:
        # Our encoder emits ESC only as the first half of a pair, never as a code.
        if data[stop - 1] == ESC:
            return stop - 1
    elif data_coding == _UCS2 and 0xD8 <= data[stop - 2] <= 0xDB:
        return stop - 2  # high surrogate: keep it with its low half
    return stop


def split_text(text: str, data_coding: int, ref_bits: int = 8) -> list[bytes]:
    """Encoded payload of each part (no UDH); a single element when the text fits one message.

    Raises UnencodableError if ``text`` cannot be encoded in ``data_coding``.
    """
    return split_octets(encode_text(text, data_coding), data_coding, ref_bits)


def split_octets(data: bytes, data_coding: int, ref_bits: int = 8) -> list[bytes]:
    """:func:`split_text` for text already encoded in ``data_coding`` (as our encoder writes it)."""
    unit = _unit_size(data_coding)
    if len(data) <= single_limit(data_coding) * unit:
        return [data]
    size = part_limit(data_coding, ref_bits) * unit
    parts: list[bytes] = []
    start = 0
    while len(data) - start > size:
        stop = _cut(data, start + size, data_coding)
        parts.append(data[start:stop])
        start = stop
    parts.append(data[start:])
    return parts
