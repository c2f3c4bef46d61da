"""What both halves of ``python -m tools.bench_console`` share: the shape of the data they build (the
same on SQLite and PostgreSQL, so their figures compare) and the timing of the counting trigger's cost.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

from gateway.store import Event, EventType, Store
from gateway.store.model import Channel

SCOPES = ("acme", "beta", "gamma")
DAYS = 400
# (type, share of the non-import events, channel)
MIX = (
    ("blocked", 0.80, "sms"),
    ("opt_out", 0.07, "sms"),
    ("confirmation_sent", 0.06, "sms"),
    ("help", 0.03, "sms"),
    ("opt_in", 0.02, "sms"),
    ("admin_add", 0.01, "api"),
    ("admin_remove", 0.01, "api"),
)
KEYWORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
#: SMS opt-outs with an MO arrival time (migration 0009) added once the store is open, over the last
#: 365 days, 5 ms to 2 s to honour: what the overview's time to honour ranks (its newest 10,000).
#: Not state changes (suppressed NULL), so the list and the change feed are as built.
HONOUR_ROWS = 200_000


def mix_cases() -> tuple[str, str]:
    """SQL ``CASE`` arms giving an event's type and channel from ``r`` (uniform in [0, 1)) by :data:`MIX`;
    each wants ``ELSE ... END`` after it."""
    bounds: list[tuple[float, str, str]] = []
    edge = 0.0
    for type_, share, channel in MIX:
        edge += share
        bounds.append((edge, type_, channel))
    case_type = " ".join(f"WHEN r < {edge!r} THEN '{t}'" for edge, t, _ in bounds)
    case_channel = " ".join(f"WHEN r < {edge!r} THEN '{c}'" for edge, _, c in bounds)
    return case_type, case_channel


async def append_cost(store: Store, trigger: Callable[[bool], Awaitable[None]]) -> dict[str, float]:
    """Microseconds per blocked event appended in batches of 100 (as the proxy flushes them), with and
    without the counting trigger, which ``trigger(False)`` removes and ``trigger(True)`` restores."""

    def batch(i: int) -> list[Event]:
        return [
            Event(
                type=EventType.BLOCKED,
                number=f"+4477{(i * 100 + j) % 99999999:08d}",
                scope="acme",
                channel=Channel.SMS,
                account="acme",
                campaign=f"campaign-{j % 40}",
            )
            for j in range(100)
        ]

    async def run() -> float:
        t0 = time.perf_counter()
        for i in range(50):
            await store.append_events(batch(i))
        return (time.perf_counter() - t0) / 5000 * 1e6

    # Alternate with and without the trigger, best of three each: the first commits after opening
    # a freshly migrated store also pay for checkpointing its log.
    with_trigger, without = [], []
    for _ in range(3):
        with_trigger.append(await run())
        await trigger(False)
        try:
            without.append(await run())
        finally:
            await trigger(True)
    return {"with_trigger": round(min(with_trigger), 1), "without_trigger": round(min(without), 1)}


def console_arguments(prog: str, description: str, runs: int) -> argparse.ArgumentParser:
    """The options every console bench takes: the store's size, the runs, where to keep the store."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument("--suppressions", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=runs)
    parser.add_argument("--keep", type=Path, help="build the store here and keep it (reused if it exists)")
    return parser
