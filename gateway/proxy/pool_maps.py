"""Small bounded maps with a time to live, for pooled mode: SMSC message ids to the session that
sent the message (receipts), and an ESME's concatenated message to the bind its first part took."""

from __future__ import annotations

from collections import OrderedDict
from typing import Any


class TtlMap:
    """At most ``limit`` entries (oldest dropped first), each forgotten ``ttl`` seconds after it was set."""

    __slots__ = ("_items", "limit", "ttl")

    def __init__(self, limit: int, ttl: float) -> None:
        self.limit = limit
        self.ttl = ttl
        self._items: OrderedDict[Any, tuple[float, Any]] = OrderedDict()

    def put(self, key: Any, value: Any, now: float) -> None:
        items = self._items
        items[key] = (now + self.ttl, value)
        if len(items) > self.limit:
            items.popitem(last=False)

    def get(self, key: Any, now: float) -> Any:
        found = self._items.get(key)
        if found is None:
            return None
        if found[0] < now:
            del self._items[key]
            return None
        return found[1]

    def __len__(self) -> int:
        return len(self._items)
