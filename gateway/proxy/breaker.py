"""A circuit breaker per upstream: repeated SMSC trouble takes it out of routing for a while.

Plain data with the time passed in. ``closed`` (traffic flows) → ``open`` after ``failures``
consecutive failures (an error status that means trouble at the SMSC, or a response that never came);
``open`` → ``half_open`` once ``cooldown`` seconds have passed; ``half_open`` lets one probe request
through at a time: its success closes the circuit, its failure opens it again for another cooldown.
Routing treats ``open`` as down and ``half_open`` as degraded.
"""

from __future__ import annotations

from typing import Literal

from gateway.smpp.constants import CommandStatus

BreakerState = Literal["closed", "open", "half_open"]

#: Statuses that count against an upstream: trouble at the SMSC, not with the message.
FAILURE_STATUSES = frozenset(
    {
        CommandStatus.ESME_RSYSERR,
        CommandStatus.ESME_RX_T_APPN,
        CommandStatus.ESME_RMSGQFUL,
    }
)


class CircuitBreaker:
    """closed → open → half_open → closed (or open again), as the class docstring says."""

    __slots__ = ("_failures", "_opened_at", "_probing", "cooldown", "failures", "state")

    def __init__(self, failures: int, cooldown: float) -> None:
        self.failures = failures
        self.cooldown = cooldown
        self.state: BreakerState = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    def current(self, now: float) -> BreakerState:
        """The state at ``now`` (an open circuit whose cooldown passed is half-open)."""
        if self.state == "open" and now - self._opened_at >= self.cooldown:
            self.state = "half_open"
            self._probing = False
        return self.state

    def available(self, now: float) -> bool:
        """Whether a request could go now (without taking the half-open probe's place)."""
        state = self.current(now)
        return state == "closed" or (state == "half_open" and not self._probing)

    def allow(self, now: float) -> bool:
        """Whether a request may go now; in half-open, takes the one probe's place."""
        state = self.current(now)
        if state == "closed":
            return True
        if state == "half_open" and not self._probing:
            self._probing = True
            return True
        return False

    def success(self) -> None:
        self._failures = 0
        if self.state != "closed":
            self.state = "closed"
            self._probing = False

    def failure(self, now: float) -> None:
        if self.state == "half_open":
            self._open(now)
            return
        self._failures += 1
        if self.state == "closed" and self._failures >= self.failures:
            self._open(now)

    def _open(self, now: float) -> None:
        self.state = "open"
        self._opened_at = now
        self._failures = 0
        self._probing = False
