"""Failed-bind throttling per source address, as plain data with the time passed in."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    lockouts: int = 0


class BindThrottle:
    """Locks a source out after ``max_failures`` failed binds within ``window`` seconds.

    Each lockout lasts ``lockout`` seconds, doubling with every repeat up to ``max_lockout``.
    A successful bind clears the record.
    """

    def __init__(
        self,
        *,
        max_failures: int,
        window: float,
        lockout: float,
        max_lockout: float,
        max_sources: int = 100_000,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.lockout = lockout
        self.max_lockout = max_lockout
        self.max_sources = max_sources
        self._records: dict[str, _Record] = {}

    def locked(self, source: str, now: float) -> bool:
        record = self._records.get(source)
        return record is not None and record.locked_until > now

    def failed(self, source: str, now: float) -> bool:
        """Record a failed bind; True when it locks the source out."""
        record = self._records.get(source)
        if record is None:
            if len(self._records) >= self.max_sources:
                # Bounded memory under a flood of sources: forget the oldest record.
                del self._records[next(iter(self._records))]
            record = self._records[source] = _Record()
        failures = record.failures
        failures.append(now)
        while failures and failures[0] <= now - self.window:
            failures.popleft()
        if len(failures) >= self.max_failures:
            duration = min(self.lockout * (2**record.lockouts), self.max_lockout)
            record.lockouts += 1
            record.locked_until = now + duration
            failures.clear()
            return True
        return False

    def succeeded(self, source: str) -> None:
        self._records.pop(source, None)
