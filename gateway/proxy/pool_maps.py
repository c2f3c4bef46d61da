"""Small bounded maps with a time to live, for pooled mode: SMSC message ids to the session that
sent the message (receipts), and an ESME's concatenated message to the bind its first part took."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class TtlMap:
    """At most ``limit`` entries (oldest dropped first), each forgotten ``ttl`` seconds after it was set."""

    __slots__ = ("items", "limit", "ttl")

    def __init__(self, limit: int, ttl: float) -> None:
        self.limit = limit
        self.ttl = ttl
        #: key → (expiry, value), oldest first: set entries here directly on a hot path, then trim().
        self.items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def put(self, key: Any, value: Any, now: float) -> None:
        items = self.items
        items[key] = (now + self.ttl, value)
        if len(items) > self.limit:
            items.popitem(last=False)

    def trim(self) -> None:
        """Drop the oldest entries over the limit (after entries were set directly in ``items``)."""
        items = self.items
        while len(items) > self.limit:
            items.popitem(last=False)

    def get(self, key: Any, now: float) -> Any:
        found = self.items.get(key)
        if found is None:
            return None
        if found[0] < now:
            del self.items[key]
            return None
        return found[1]

    def __len__(self) -> int:
        return len(self.items)
