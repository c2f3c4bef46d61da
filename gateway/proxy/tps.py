"""``max_tps``: a token bucket shared by an upstream's binds, with the time passed in.

The bucket holds at most one second's worth of tokens (``rate``, at least one), refilled
continuously. An SMSC's own ESME_RTHROTTLED halves the effective rate (not below a tenth of
``max_tps``); it then recovers additively, a tenth of ``max_tps`` per second, back to ``max_tps``
(additive increase, multiplicative decrease, as TCP does for congestion).
"""

from __future__ import annotations


class TokenBucket:
    __slots__ = ("_last", "_recovered_at", "burst", "limit", "rate", "tokens")

    def __init__(self, rate: float, now: float) -> None:
        #: The configured max_tps.
        self.limit = rate
        #: The effective rate now (lower than ``limit`` after the SMSC throttled us).
        self.rate = rate
        self.burst = max(1.0, rate)
        self.tokens = self.burst
        self._last = now
        self._recovered_at = now

    def _refill(self, now: float) -> None:
        elapsed = now - self._last
        if elapsed > 0:
            if self.rate < self.limit:
                self.rate = min(self.limit, self.rate + self.limit * 0.1 * (now - self._recovered_at))
                self._recovered_at = now
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
            self._last = now

    def take(self, now: float) -> bool:
        """Take a token if one is there."""
        self._refill(now)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    def force(self, now: float) -> None:
        """Take a token whether or not one is there (a later part of a message already under way)."""
        self._refill(now)
        self.tokens -= 1.0

    def wait(self, now: float) -> float:
        """Seconds until a token is there (0: now)."""
        self._refill(now)
        missing = 1.0 - self.tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def throttled(self, now: float) -> None:
        """The SMSC answered ESME_RTHROTTLED: halve the effective rate."""
        self._refill(now)
        self.rate = max(self.limit * 0.1, self.rate / 2)
        self._recovered_at = now
