"""Choosing an upstream among a route's: ``failover``, ``round_robin`` and ``weighted``.

Each takes the route's upstreams in order and whether each is usable now, and returns the index of
the one to use (None: none is usable). ``weighted`` is nginx's smooth weighted round-robin: exact and
deterministic (over any run of ``sum(weights)`` picks each upstream gets exactly its weight), and
interleaved rather than bursty. Upstreams not usable are skipped; their turns go to the others.
"""

from __future__ import annotations

from collections.abc import Sequence


def failover(usable: Sequence[bool]) -> int | None:
    for index, ok in enumerate(usable):
        if ok:
            return index
    return None


class RoundRobin:
    __slots__ = ("_next",)

    def __init__(self) -> None:
        self._next = 0

    def pick(self, usable: Sequence[bool]) -> int | None:
        size = len(usable)
        start = self._next
        for step in range(size):
            index = (start + step) % size
            if usable[index]:
                self._next = index + 1
                return index
        return None


class SmoothWeighted:
    __slots__ = ("_current", "weights")

    def __init__(self, weights: Sequence[int]) -> None:
        self.weights = tuple(weights)
        self._current = [0] * len(self.weights)

    def pick(self, usable: Sequence[bool]) -> int | None:
        current = self._current
        total = 0
        best: int | None = None
        for index, weight in enumerate(self.weights):
            if not usable[index]:
                continue
            current[index] += weight
            total += weight
            if best is None or current[index] > current[best]:
                best = index
        if best is not None:
            current[best] -= total
        return best
