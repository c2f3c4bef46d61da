"""Reassembly of concatenated mobile-originated messages, sans-IO (time is passed in).

A long MO message arrives as several deliver_sm PDUs carrying a concatenation reference, the total
number of parts and a part number (UDH ``05 00 03 ref total seq`` / ``06 08 04 refhi reflo total
seq``, or the SAR TLVs). Keyword detection needs the whole text, or at least its beginning, so the
proxy collects the parts here, keyed by something like ``(source address, reference)``.

Like aioquic's connection, this class never reads a clock: every call takes ``now`` (seconds from
any monotonic clock), :meth:`Reassembler.next_deadline` tells the caller when to come back, and
:meth:`Reassembler.expire` hands out what timed out.

Decisions the caller must know
    * The timeout runs from the *first* part's arrival; late parts do not extend it.
    * Partial text (from :meth:`~Reassembler.expire` and :meth:`~Reassembler.take_evicted`) joins
      the parts that did arrive **in part-number order**, not arrival order, so the beginning of
      the message, where keywords are looked for, comes first whenever part 1 arrived.
    * A part whose ``total`` differs from the pending message with the same key means the 8-bit
      reference wrapped round or the sender reused it: the pending message is set aside as
      evicted and a new one is started with this part.
    * Evicted messages (over ``max_messages``, or replaced as above) are not silently lost: their
      partial text and how many parts had arrived wait in :meth:`~Reassembler.take_evicted` (at most
      ``max_messages`` of them) for the caller to log and count.
    * A single-part message (``total == 1``) is returned at once and never stored. Parts with
      ``seq`` outside ``1..total``, ``total`` outside ``1..max_parts`` and duplicates are ignored
      (the first copy of a part wins).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["Evicted", "Reassembler", "ReassemblyKey"]

#: Identifies one concatenated message, e.g. ``(source address, concatenation reference)``.
#: Include anything else that separates senders (destination, account) in the string.
ReassemblyKey = tuple[str, int]


class Evicted(NamedTuple):
    """A message set aside before it was complete (see :meth:`Reassembler.take_evicted`)."""

    key: ReassemblyKey
    #: The parts that arrived, joined in part-number order.
    text: str
    #: How many parts had arrived, of ``total``.
    received: int
    total: int


@dataclass(slots=True)
class _Pending:
    total: int
    started: float
    parts: dict[int, str] = field(default_factory=dict)

    def partial(self) -> str:
        return "".join(self.parts[seq] for seq in sorted(self.parts))


class Reassembler:
    """Collects the parts of concatenated messages until they are complete or time out."""

    def __init__(self, timeout: float, max_messages: int, max_parts: int = 255) -> None:
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages!r}")
        if not 1 <= max_parts <= 255:
            raise ValueError(f"max_parts must be within 1..255, got {max_parts!r}")
        self.timeout = timeout
        self.max_messages = max_messages
        self.max_parts = max_parts
        # Insertion order is arrival order of each message's first part: the first entry is
        # always the oldest, so eviction and expiry are O(1) per entry.
        self._pending: dict[ReassemblyKey, _Pending] = {}
        self._evicted: deque[Evicted] = deque(maxlen=max_messages)

    def __len__(self) -> int:
        """Messages waiting for parts."""
        return len(self._pending)

    def add(self, key: ReassemblyKey, total: int, seq: int, text: str, now: float) -> str | None:
        """Add one part; return the whole text (parts joined in order) once all have arrived."""
        if not 1 <= total <= self.max_parts or not 1 <= seq <= total:
            return None
        if total == 1:
            return text
        entry = self._pending.get(key)
        if entry is not None and entry.total != total:
            # Reference reused with a different part count: the old message cannot complete.
            del self._pending[key]
            self._evict(key, entry)
            entry = None
        if entry is None:
            entry = _Pending(total=total, started=now)
            self._pending[key] = entry
            while len(self._pending) > self.max_messages:
                oldest = next(iter(self._pending))
                self._evict(oldest, self._pending.pop(oldest))
        if seq in entry.parts:
            return None
        entry.parts[seq] = text
        if len(entry.parts) < total:
            return None
        del self._pending[key]
        return "".join(entry.parts[i] for i in range(1, total + 1))

    def expire(self, now: float) -> list[tuple[ReassemblyKey, str]]:
        """Drop messages whose first part is ``timeout`` or more old; return their partial text.

        Call it at (or after) :meth:`next_deadline`. ``now`` must come from a monotonic clock.
        """
        expired: list[tuple[ReassemblyKey, str]] = []
        while self._pending:
            key, entry = next(iter(self._pending.items()))
            if now < entry.started + self.timeout:
                break
            del self._pending[key]
            expired.append((key, entry.partial()))
        return expired

    def next_deadline(self) -> float | None:
        """When the oldest pending message times out, or ``None`` if nothing is pending."""
        for entry in self._pending.values():
            return entry.started + self.timeout
        return None

    def reconfigure(self, *, timeout: float, max_messages: int) -> None:
        """Adopt new limits (a configuration reload), keeping the messages pending.

        A pending message times out ``timeout`` after its first part, the new ``timeout``; beyond a
        lower ``max_messages`` the oldest are evicted.
        """
        if not timeout > 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        if max_messages < 1:
            raise ValueError(f"max_messages must be at least 1, got {max_messages!r}")
        self.timeout = timeout
        if max_messages != self.max_messages:
            self.max_messages = max_messages
            self._evicted = deque(self._evicted, maxlen=max_messages)
            while len(self._pending) > max_messages:
                oldest = next(iter(self._pending))
                self._evict(oldest, self._pending.pop(oldest))

    def take_evicted(self) -> list[Evicted]:
        """Messages dropped to stay within ``max_messages`` (or replaced by a reused reference)
        since the last call, with their partial text; clears the list."""
        out = list(self._evicted)
        self._evicted.clear()
        return out

    def _evict(self, key: ReassemblyKey, entry: _Pending) -> None:
        self._evicted.append(Evicted(key, entry.partial(), len(entry.parts), entry.total))
