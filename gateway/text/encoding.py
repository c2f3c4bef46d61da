"""Text <-> short_message octets for the data_coding values Stopgate handles.

Decoding never raises: whatever an ESME or SMSC sends must still be readable for opt-out matching.
Encoding is exact: it raises :class:`UnencodableError` rather than lose or replace a character.
"""

from __future__ import annotations

from gateway.smpp.constants import DataCoding
from gateway.text.gsm import UnencodableError, decode_gsm, encode_gsm, is_gsm

__all__ = [
    "TEXT_CODINGS",
    "UnencodableError",
    "alphabet",
    "can_encode",
    "decode_text",
    "encode_text",
    "with_alphabet",
]

_GSM = DataCoding.SMSC_DEFAULT
_IA5 = DataCoding.IA5
_UCS2 = DataCoding.UCS2

# GSM 03.38 §4 coding groups that carry a message class in bits 1-0 (SMPP 3.4 §5.2.19 passes them
# through): 00x1 with the alphabet in bits 3-2 (0x10-0x13 GSM 7-bit, 0x18-0x1B UCS2; 0x14-0x17 8-bit
# data) and 1111 with bit 2 choosing GSM 7-bit (0xF0-0xF3) or 8-bit data (0xF4-0xF7). SMPP carries
# the GSM 7-bit ones unpacked, one septet per octet, exactly as data_coding 0.
_CLASS_GSM = frozenset(range(0x10, 0x14)) | frozenset(range(0xF0, 0xF4))
_CLASS_UCS2 = frozenset(range(0x18, 0x1C))
_CLASS_MASK = 0x03

#: data_coding values whose octets are text Stopgate reads and extends: the plain codings and the
#: GSM 7-bit / UCS2 codings with a message class. Every other value is binary to Stopgate.
TEXT_CODINGS = frozenset({_GSM, _IA5, DataCoding.LATIN1, _UCS2}) | _CLASS_GSM | _CLASS_UCS2


def alphabet(data_coding: int) -> int:
    """The plain coding (0 GSM or 8 UCS2) a message-class coding's text is written in; any other
    ``data_coding`` is its own alphabet."""
    if data_coding in _CLASS_GSM:
        return _GSM
    if data_coding in _CLASS_UCS2:
        return _UCS2
    return data_coding


def with_alphabet(data_coding: int, new_alphabet: int) -> int:
    """The data_coding for text in ``new_alphabet`` (0 or 8) that keeps ``data_coding``'s coding group
    and message class: the class survives a move to UCS2 (0xF1 becomes 0x19, the 1111 group having
    no UCS2), and a plain coding becomes ``new_alphabet`` itself."""
    if data_coding in _CLASS_GSM or data_coding in _CLASS_UCS2:
        if new_alphabet == alphabet(data_coding):
            return data_coding
        if new_alphabet == _UCS2:
            return 0x18 | (data_coding & _CLASS_MASK)
        if new_alphabet == _GSM:
            return 0x10 | (data_coding & _CLASS_MASK)
    return new_alphabet


def decode_text(data: bytes, data_coding: int) -> str:
    """Decode ``data`` sent with ``data_coding``; never raises.

    0 is GSM 03.38, 1 is IA5 (octets above 0x7F read as Latin-1), 3 is Latin-1, 8 is UCS2 read as
    UTF-16BE (surrogate pairs combined; an odd trailing octet or lone surrogate becomes U+FFFD) and
    anything else is read as Latin-1. A coding with a message class reads as its alphabet.
    """
    data_coding = alphabet(data_coding)
    if data_coding == _GSM:
        return decode_gsm(data)
    if data_coding == _UCS2:
        return data.decode("utf-16-be", errors="replace")
    return data.decode("latin-1")


def _codec(data_coding: int) -> tuple[str, str]:
    """Python codec and display name for a non-GSM data_coding."""
    if data_coding == _UCS2:
        return "utf-16-be", "UCS2"
    if data_coding == _IA5:
        return "ascii", "IA5"
    return "latin-1", "Latin-1"


def encode_text(text: str, data_coding: int) -> bytes:
    """Encode ``text`` for ``data_coding`` (unknown codings as Latin-1).

    Raises :class:`UnencodableError` naming the first character that cannot be represented.
    """
    data_coding = alphabet(data_coding)
    if data_coding == _GSM:
        return encode_gsm(text)
    codec, name = _codec(data_coding)
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise UnencodableError(text[exc.start], name) from None


def can_encode(text: str, data_coding: int) -> bool:
    """True if :func:`encode_text` would succeed."""
    data_coding = alphabet(data_coding)
    if data_coding == _GSM:
        return is_gsm(text)
    if data_coding == _IA5:
        return text.isascii()
    if data_coding == _UCS2:
        try:
            text.encode("utf-16-be")
        except UnicodeEncodeError:
            return False
        return True
    return not text or max(text) <= "\xff"
