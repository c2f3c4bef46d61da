"""Identifiers Stopgate makes up: message ids it answers with, and concatenation references."""

from __future__ import annotations

import uuid


def new_message_id() -> str:
    """A message id for a message Stopgate answered itself (held, refused-then-failed, split)."""
    return "sg" + uuid.uuid4().hex[:20]


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
