"""Opt-out footer policy: detect an existing footer and append one without losing a character."""

from __future__ import annotations

import functools

from gateway.smpp.constants import DataCoding
from gateway.text.encoding import can_encode, encode_text

__all__ = ["append_footer", "footer_separator", "has_footer"]


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
    UCS2. If the footer is already present, ``text`` and ``data_coding`` come back unchanged. Raises
    UnencodableError if even UCS2 cannot hold the result (lone surrogates in the input).
    """
    if has_footer(text, footer):
        return text, data_coding
    new_text = text + footer_separator(text) + footer
    if can_encode(new_text, data_coding):
        return new_text, data_coding
    encode_text(new_text, DataCoding.UCS2)  # raise now rather than when the message is sent
    return new_text, DataCoding.UCS2
