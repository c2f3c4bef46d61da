"""Running generated inputs through every check, counting outcomes and keeping the first crash."""

from __future__ import annotations

import random
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from gateway.smpp.events import Rejected
from tools.fuzz_smpp.checks import check_connection, check_decode
from tools.fuzz_smpp.corpus import generate
from tools.fuzz_smpp.scenarios import SCENARIOS


@dataclass
class Crash:
    target: str
    data: bytes
    error: BaseException
    trace: str


@dataclass
class Report:
    count: int = 0
    seed: int = 0
    elapsed: float = 0.0
    decode_outcomes: Counter[str] = field(default_factory=Counter)
    events: Counter[str] = field(default_factory=Counter)
    broken: int = 0
    crash: Crash | None = None

    @property
    def ok(self) -> bool:
        return self.crash is None


def fuzz_one(
    data: bytes, rng: random.Random, report: Report, scenario: str | None = None, prefix: bytes = b""
) -> None:
    """Run one input through every target; raises on any disallowed outcome (the caller reports it)."""
    report.decode_outcomes[check_decode(data)] += 1
    name = scenario or rng.choice(list(SCENARIOS))
    events = check_connection(prefix + data, name, rng)
    for event in events:
        report.events[type(event).__name__] += 1
        if isinstance(event, Rejected) and event.error.fatal:
            report.broken += 1


def run(count: int, seed: int, *, progress: Callable[[int], None] | None = None) -> Report:
    """Run ``count`` generated inputs; stops at the first crash and returns it in the report."""
    rng = random.Random(seed)
    report = Report(seed=seed)
    start = time.perf_counter()
    for i in range(count):
        prefix, data = generate(rng)
        try:
            fuzz_one(data, rng, report, prefix=prefix)
        except Exception as exc:  # the point of the fuzzer: anything else is a finding
            report.crash = Crash("decode/connection", prefix + data, exc, traceback.format_exc())
            break
        report.count = i + 1
        if progress is not None and (i + 1) % 10000 == 0:
            progress(i + 1)
    report.elapsed = time.perf_counter() - start
    return report


def print_report(report: Report, out: Callable[[str], None] = print) -> None:
    rate = report.count / report.elapsed if report.elapsed else 0.0
    out(f"inputs: {report.count}  seed: {report.seed}  elapsed: {report.elapsed:.1f}s  ({rate:,.0f}/s)")
    parsed = sum(n for k, n in report.decode_outcomes.items() if k.startswith("pdu:"))
    out(f"decode: {parsed} parsed, {report.count - parsed} ProtocolError")
    for label, n in sorted(report.decode_outcomes.items(), key=lambda kv: -kv[1]):
        out(f"  {label:<36} {n}")
    out("connection events: " + ", ".join(f"{k}={v}" for k, v in sorted(report.events.items())))
    out(f"connections broken (fatal framing): {report.broken}")
    if report.crash is not None:
        out(f"CRASH: {type(report.crash.error).__name__}: {report.crash.error}")
        out(f"input hex: {report.crash.data.hex()}")
