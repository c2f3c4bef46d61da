"""Identifiers Stopgate makes up: message ids it answers with, and concatenation references."""

from __future__ import annotations

import uuid

#: The forms of :func:`new_message_id`, as an upstream's ``message_ids`` names them.
MESSAGE_ID_FORMS = ("decimal", "hex")


def new_message_id(form: str = "decimal") -> str:
    """A message id for a message Stopgate answered itself (held, refused-then-failed, split).

    60 random bits, written in decimal (at most 19 digits) or lower-case hex (at most 15): clients
    that parse ids as numbers (Kannel's ``msg-id-type``) read them whole, as a signed 64-bit value.
    ``form`` is the upstream's, so the client sees one format whether the SMSC or Stopgate answered.
    """
    bits = uuid.uuid4().int >> 68
    return f"{bits:x}" if form == "hex" else str(bits)


class ConcatReferences:
    """The 8-bit references of the messages Stopgate splits or sends, one after another.

    Starts at a random value, so that a restart does not reuse the references just sent.
    """

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = int.from_bytes(uuid.uuid4().bytes[:1], "big")

    def next(self) -> int:
        self._last = (self._last + 1) & 0xFF
        return self._last
