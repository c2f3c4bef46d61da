"""GSM 03.38 default alphabet, unpacked: one septet per octet, as SMPP carries data_coding 0.

Characters in the extension table are sent as ``0x1B`` followed by a code and count as two
septets. Decoding follows 03.38's receiving rules and never raises: an escape followed by a code
missing from the extension table shows the main-table character for that code, ``1B 1B`` shows a
space, and a lone trailing ``0x1B`` becomes a no-break space (as in unicode.org's GSM0338.TXT).
Octets above 0x7F are not septets and decode as U+FFFD.
"""

from __future__ import annotations

__all__ = ["ESC", "UnencodableError", "decode_gsm", "encode_gsm", "is_gsm"]

#: Escape to the extension table.
ESC = 0x1B

#: Main table, indexed by septet; position 0x1B (ESC) shows as a no-break space.
_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\xa0ÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
#: Extension table: code after ESC -> character.
_EXTENSION = {
    0x0A: "\f",
    0x14: "^",
    0x28: "{",
    0x29: "}",
    0x2F: "\\",
    0x3C: "[",
    0x3D: "~",
    0x3E: "]",
    0x40: "|",
    0x65: "€",
}

#: str.translate table: character -> its encoding as a latin-1 string (one or two code units).
_ENCODE: dict[int, str] = {ord(ch): chr(code) for code, ch in enumerate(_BASIC) if code != ESC}
_ENCODE.update({ord(ch): chr(ESC) + chr(code) for code, ch in _EXTENSION.items()})
#: str.translate table deleting every encodable character: what survives cannot be encoded.
_STRIP: dict[int, None] = dict.fromkeys(_ENCODE)
#: str.translate table for octets decoded as latin-1 (no escapes): septet -> character.
_DECODE: dict[int, str] = {code: ch for code, ch in enumerate(_BASIC)}
_DECODE.update(dict.fromkeys(range(0x80, 0x100), "\ufffd"))


class UnencodableError(ValueError):
    """The text holds a character the requested encoding cannot represent."""

    def __init__(self, char: str, encoding: str) -> None:
        super().__init__(f"{char!r} (U+{ord(char):04X}) cannot be encoded in {encoding}")
        self.char = char
        self.encoding = encoding


def is_gsm(text: str) -> bool:
    """True if every character of ``text`` is in the GSM 03.38 default alphabet or its extension."""
    return not text.translate(_STRIP)


def encode_gsm(text: str) -> bytes:
    """Encode to unpacked septets.

    Raises :class:`UnencodableError` naming the first character outside the alphabet.
    """
    bad = text.translate(_STRIP)
    if bad:
        raise UnencodableError(bad[0], "GSM 03.38")
    return text.translate(_ENCODE).encode("latin-1")


def _plain(chunk: bytes) -> str:
    return chunk.decode("latin-1").translate(_DECODE)


def decode_gsm(data: bytes) -> str:
    """Decode unpacked septets; never raises (see the module docstring for the lenient cases)."""
    if ESC not in data:
        return _plain(data)
    # After the first chunk, every chunk followed an ESC, so its first octet is an escape code.
    chunks = data.split(b"\x1b")
    out = [_plain(chunks[0])]
    last = len(chunks) - 1
    i = 1
    while i <= last:
        chunk = chunks[i]
        if chunk:
            code = chunk[0]
            out.append(_EXTENSION.get(code) or _plain(chunk[:1]))
            out.append(_plain(chunk[1:]))
        elif i == last:
            out.append("\xa0")  # lone trailing ESC
        else:
            # ESC ESC: reserved escape to another table, shown as a space; the next chunk is plain.
            i += 1
            out.append(" ")
            out.append(_plain(chunks[i]))
        i += 1
    return "".join(out)
