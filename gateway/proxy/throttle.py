"""Failed-bind throttling per (source address, system_id), as plain data with the time passed in.

Keyed by both, not by address alone: gateways often bind every account from one host, and one
account's typo must not lock the others out (a correct password for another account is never refused).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

#: What a lockout is keyed by: (source address, system_id).
BindSource = tuple[str, str]


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)
    locked_until: float = 0.0
    lockouts: int = 0


@dataclass(frozen=True, slots=True)
class Lockout:
    """One lockout in force, as plain data (the admin API lists these)."""

    ip: str
    system_id: str
    #: Seconds left, measured on the throttle's clock.
    remaining: float
    #: How many lockouts in a row this source has had (each doubles the next).
    count: int


class BindThrottle:
    """Locks a (source, system_id) out after ``max_failures`` failed binds within ``window`` seconds.

    Each lockout lasts ``lockout`` seconds, doubling with every repeat up to ``max_lockout``.
    A successful bind clears the record; so does :meth:`unlock` (an operator's decision).
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
        self._records: dict[BindSource, _Record] = {}

    def locked(self, source: BindSource, now: float) -> bool:
        record = self._records.get(source)
        return record is not None and record.locked_until > now

    def failed(self, source: BindSource, now: float) -> bool:
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

    def succeeded(self, source: BindSource) -> None:
        self._records.pop(source, None)

    def lockouts(self, now: float) -> list[Lockout]:
        """Every lockout in force at ``now``."""
        return [
            Lockout(ip, system_id, record.locked_until - now, record.lockouts)
            for (ip, system_id), record in self._records.items()
            if record.locked_until > now
        ]

    def unlock(self, ip: str, system_id: str | None, now: float) -> list[Lockout]:
        """Lift the lockouts of ``ip`` (of one ``system_id``, or all of them); returns those lifted.

        The record goes (failure count and backoff too): the operator has dealt with the cause."""
        lifted = [
            lockout
            for lockout in self.lockouts(now)
            if lockout.ip == ip and (system_id is None or lockout.system_id == system_id)
        ]
        for lockout in lifted:
            self._records.pop((lockout.ip, lockout.system_id), None)
        return lifted
