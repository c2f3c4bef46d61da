"""Failed admin authentications counted per client address, to slow down token guessing.

After :attr:`AuthFailures.limit` failures within :attr:`AuthFailures.window` seconds, an address is
answered 429 (with ``Retry-After``) on every route that needs a token until the oldest failure ages
out, whatever token it presents: a guesser learns nothing more during the pause.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(kw_only=True, slots=True)
class AuthFailures:
    limit: int = 30
    window: float = 60.0
    #: Addresses tracked at most (the least recently failing are forgotten first), bounding memory.
    max_clients: int = 10_000
    clock: Callable[[], float] = time.monotonic
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)

    def _recent(self, client: str, now: float) -> deque[float] | None:
        times = self._failures.get(client)
        if times is None:
            return None
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def retry_after(self, client: str) -> int | None:
        """Seconds until ``client`` may try again, or None when it is not limited."""
        now = self.clock()
        times = self._recent(client, now)
        if times is None or len(times) < self.limit:
            return None
        return max(1, math.ceil(times[-self.limit] + self.window - now))

    def failed(self, client: str) -> bool:
        """Count a failure; True when this one reaches the limit (log that once)."""
        now = self.clock()
        times = self._recent(client, now)
        if times is None:
            times = self._failures[client] = deque(maxlen=self.limit)
            while len(self._failures) > self.max_clients:
                self._failures.popitem(last=False)
        else:
            self._failures.move_to_end(client)
        times.append(now)
        return len(times) == self.limit
