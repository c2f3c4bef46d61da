"""Text <-> short_message octets for the data_coding values Stopgate handles.

Decoding never raises: whatever an ESME or SMSC sends must still be readable for opt-out matching.
Encoding is exact: it raises :class:`UnencodableError` rather than lose or replace a character.
"""

from __future__ import annotations

from gateway.smpp.constants import DataCoding
from gateway.text.gsm import UnencodableError, decode_gsm, encode_gsm, is_gsm

__all__ = ["UnencodableError", "can_encode", "decode_text", "encode_text"]

_GSM = DataCoding.SMSC_DEFAULT
_IA5 = DataCoding.IA5
_UCS2 = DataCoding.UCS2


def decode_text(data: bytes, data_coding: int) -> str:
    """Decode ``data`` sent with ``data_coding``; never raises.

    0 is GSM 03.38, 1 is IA5 (octets above 0x7F read as Latin-1), 3 is Latin-1, 8 is UCS2 read as
    UTF-16BE (surrogate pairs combined; an odd trailing octet or lone surrogate becomes U+FFFD) and
    anything else is read as Latin-1.
    """
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
    if data_coding == _GSM:
        return encode_gsm(text)
    codec, name = _codec(data_coding)
    try:
        return text.encode(codec)
    except UnicodeEncodeError as exc:
        raise UnencodableError(text[exc.start], name) from None


def can_encode(text: str, data_coding: int) -> bool:
    """True if :func:`encode_text` would succeed."""
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
