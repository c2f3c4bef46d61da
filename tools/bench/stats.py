"""Order statistics of latency and throughput samples."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples (0.0 when there are none)."""
    if not ordered:
        return 0.0
    return float(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))])


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
