"""Opt-out footer policy: detect an existing footer and append one without losing a character."""

from __future__ import annotations

import functools
from typing import Final

from gateway.smpp.constants import DataCoding
from gateway.text.encoding import alphabet, can_encode, encode_text, with_alphabet
from gateway.text.segments import single_limit

__all__ = ["append_footer", "append_footer_octets", "footer_separator", "has_footer"]


def _fold(text: str) -> str:
    """Casefold, then turn every run of whitespace into one space and trim the ends."""
    return " ".join(text.casefold().split())


@functools.lru_cache(maxsize=256)
def _folded_footer(footer: str) -> str:
    return _fold(footer)


def has_footer(text: str, footer: str) -> bool:
    """True if ``footer`` occurs in ``text`` ignoring case and whitespace differences.

    An empty (or all-whitespace) footer is always present.
    """
    wanted = _folded_footer(footer)
    return not wanted or wanted in _fold(text)


def footer_separator(text: str) -> str:
    """What goes between ``text`` and the footer: nothing after empty text or trailing whitespace
    (a newline included), otherwise one space."""
    return " " if text and not text[-1].isspace() else ""


def append_footer(text: str, footer: str, data_coding: int) -> tuple[str, int]:
    """Return ``(text + separator + footer, data_coding to send it with)``.

    The coding stays unless it cannot hold the new text, in which case the whole message moves to
    UCS2, keeping its message class (0xF1 becomes 0x19). If the footer is already present, ``text``
    and ``data_coding`` come back unchanged. Raises
    UnencodableError if even UCS2 cannot hold the result (lone surrogates in the input).
    """
    if has_footer(text, footer):
        return text, data_coding
    new_text = text + footer_separator(text) + footer
    if can_encode(new_text, data_coding):
        return new_text, data_coding
    encode_text(new_text, DataCoding.UCS2)  # raise now rather than when the message is sent
    return new_text, with_alphabet(data_coding, DataCoding.UCS2)


# --- the same on octets, for the common case -------------------------------------------------------

#: Octets that stand for the same character in GSM 03.38 (unpacked), IA5 and Latin-1: LF, CR, and
#: printable ASCII except the twelve that GSM 03.38 puts elsewhere: $ @ [ \ ] ^ _ ` { | } ~.
_SAME_EVERYWHERE = b"\n\r" + bytes(
    c for c in range(0x20, 0x7F) if chr(c) not in "$@[\\]^_`{|}~"
)
_NARROW_CODINGS = frozenset({DataCoding.SMSC_DEFAULT, DataCoding.IA5, DataCoding.LATIN1})
_UCS2 = DataCoding.UCS2
#: One segment, in octets, for each coding the octet path takes.
_SINGLE_OCTETS: Final[dict[int, int]] = {
    dc: single_limit(dc) * (2 if dc == _UCS2 else 1) for dc in (*_NARROW_CODINGS, _UCS2)
}


@functools.lru_cache(maxsize=256)
def _footer_octets(footer: str, data_coding: int) -> tuple[bytes, bytes, bytes] | None:
    """(the footer encoded for ``data_coding``; for the narrow codings, the footer folded as
    :func:`_fold` would, in octets, and its first word), or None when the octet path cannot take it."""
    if data_coding == _UCS2:
        try:
            return footer.encode("utf-16-be"), b"", b""
        except UnicodeEncodeError:
            return None
    octets = footer.encode("latin-1", errors="replace")
    if not footer.isascii() or octets.translate(None, _SAME_EVERYWHERE):
        return None
    words = octets.lower().split()
    return octets, b" ".join(words), words[0] if words else b""


class _KnownBodies:
    """:func:`append_footer_octets` remembering its answers: a campaign sends one body to many numbers.

    Keyed by (short_message, data_coding, footer, split); at most ``size`` answers, emptied when full.
    When bodies do not repeat (fewer hits than answers kept by the time it is full: a personalised
    campaign) the next ``pause`` calls skip the lookup, whose cost would then buy nothing.
    """

    def __init__(self, size: int = 1024, pause: int = 50_000) -> None:
        self.size, self.pause = size, pause
        self.answers: dict[tuple[bytes, int, str, bool], object] = {}
        self.hits = 0
        self.skip = 0

    def append_footer_octets(
        self, short_message: bytes, data_coding: int, footer: str, *, split: bool = False
    ) -> bytes | None:
        """:func:`append_footer` for a whole message, on its encoded octets.

        Returns ``short_message`` itself when the footer is already there, the new octets when the
        message with the footer still fits one segment in the same coding (with ``split``, however
        long it gets), and None when the answer needs the text path (other characters, a coding
        change, undecodable octets) or, without ``split``, a split. Where it answers, the octets are
        exactly those :func:`append_footer` then :func:`encode_text` would give.
        """
        if self.skip:
            self.skip -= 1
            return _append_footer_octets(short_message, data_coding, footer, split)
        key = (short_message, data_coding, footer, split)
        answer = self.answers.get(key, _MISSING)
        if answer is not _MISSING:
            self.hits += 1
            return short_message if answer is _UNCHANGED else answer  # type: ignore[return-value]
        new = _append_footer_octets(short_message, data_coding, footer, split)
        if len(self.answers) >= self.size:
            if self.hits < self.size:
                self.skip = self.pause
            self.answers.clear()
            self.hits = 0
        self.answers[key] = _UNCHANGED if new is short_message else new
        return new


_MISSING: Final = object()
_UNCHANGED: Final = object()
_known_bodies = _KnownBodies()
append_footer_octets = _known_bodies.append_footer_octets


def _append_footer_octets(short_message: bytes, data_coding: int, footer: str, split: bool) -> bytes | None:
    data_coding = alphabet(data_coding)  # a message class changes nothing in the octets
    new = _footed_octets(short_message, data_coding, footer)
    if split or new is None or new is short_message or len(new) <= _SINGLE_OCTETS[data_coding]:
        return new
    return None


def _footed_octets(short_message: bytes, data_coding: int, footer: str) -> bytes | None:
    """The octets of ``short_message`` with the footer appended, however long (``short_message``
    itself when the footer is there), or None when only the text path can tell."""
    if not short_message:
        return None
    encoded = _footer_octets(footer, data_coding)
    if encoded is None:
        return None
    footer_octets, folded_footer, first_word = encoded
    if data_coding == _UCS2:
        if len(short_message) % 2:
            return None
        try:
            text = short_message.decode("utf-16-be")
        except UnicodeDecodeError:
            return None
        if has_footer(text, footer):
            return short_message
        separator = footer_separator(text).encode("utf-16-be")
        return short_message + separator + footer_octets
    if data_coding not in _NARROW_CODINGS or short_message.translate(None, _SAME_EVERYWHERE):
        return None
    # Only ASCII letters, digits, punctuation, space, LF and CR: casefold is lower() and the
    # whitespace str.split() knows is the whitespace bytes.split() knows.
    lowered = short_message.lower()
    if not folded_footer or (
        first_word in lowered and folded_footer in b" ".join(lowered.split())
    ):
        return short_message
    separator = b"" if short_message[-1] in b" \n\r" else b" "
    return short_message + separator + footer_octets
