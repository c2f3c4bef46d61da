"""Benchmark the SQLite store and the suppression index at scale.

    python -m tools.bench_store --rows 1000000

Measures: bulk import of N rows, ``load_suppressions`` / ``load_numbers`` alone, ``build_index``
(load_numbers + index build), index memory, ``contains()`` cost, and the commit latency of
``opt_out`` (one fsync'd transaction each) on the populated database. Prints a small table.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import anyio

from gateway.store.index import build_index
from gateway.store.model import Channel, Event, EventType
from gateway.store.sqlite import SQLiteStore

SCOPES = ("acme", "globex", "initech")


def rows(n: int, seed: int) -> Iterator[tuple[str, str]]:
    """``n`` pseudo-random (scope, number) pairs: UK mobiles and US numbers, a few duplicates."""
    rng = random.Random(seed)
    for i in range(n):
        scope = SCOPES[i % len(SCOPES)]
        if rng.random() < 0.5:
            yield scope, f"+447{rng.randrange(10**9):09d}"
        else:
            yield scope, f"+1{rng.randrange(2 * 10**9, 10**10)}"


def rss_bytes() -> int:
    """Resident set size of this process (Linux); 0 where /proc is unavailable."""
    try:
        with open("/proc/self/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def bench(n: int, directory: Path, samples: int, lookups: int) -> list[tuple[str, str]]:
    table: list[tuple[str, str]] = []
    path = directory / "bench.db"
    async with SQLiteStore(path, busy_timeout=60) as store:
        started = time.perf_counter()
        added = await store.import_suppressions(rows(n, 1), channel=Channel.IMPORT, reason="bench")
        took = time.perf_counter() - started
        table.append((f"import_suppressions({n:,} rows)", f"{took:.2f} s ({n / took:,.0f} rows/s)"))
        table.append(("  newly suppressed", f"{added:,}"))
        size = sum(p.stat().st_size for p in directory.iterdir() if p.name.startswith("bench.db"))
        table.append(("  database + WAL size", f"{size / 2**20:,.0f} MiB"))

        started = time.perf_counter()
        count = 0
        async for batch in store.load_suppressions():
            count += len(batch)
        took = time.perf_counter() - started
        table.append((f"load_suppressions ({count:,} pairs)", f"{took:.2f} s"))

        started = time.perf_counter()
        count = 0
        async for _scope, numbers in store.load_numbers():
            count += len(numbers)
        took = time.perf_counter() - started
        table.append((f"load_numbers ({count:,} numbers)", f"{took:.2f} s"))

        gc.collect()
        rss_before = rss_bytes()
        started = time.perf_counter()
        index, last = await build_index(store)
        took = time.perf_counter() - started
        gc.collect()
        rss_delta = rss_bytes() - rss_before
        table.append(("build_index (load_numbers + index build)", f"{took:.2f} s"))
        table.append(
            (
                "  index memory",
                f"{index.memory_usage() / 2**20:,.1f} MiB "
                f"({index.memory_usage() / max(len(index), 1):.1f} B/number; "
                f"RSS delta {rss_delta / 2**20:,.1f} MiB)",
            )
        )

        rng = random.Random(2)
        present = [pair for pair, _ in zip(rows(n, 1), range(lookups // 2), strict=False)]
        absent = [(rng.choice(SCOPES), f"+447{rng.randrange(10**9):09d}") for _ in range(lookups // 2)]
        queries = present + absent
        rng.shuffle(queries)
        contains = index.contains
        started = time.perf_counter()
        hits = sum(contains(scope, number) for scope, number in queries)
        took = time.perf_counter() - started
        table.append(
            (f"contains() x {len(queries):,}", f"{took / len(queries) * 1e9:,.0f} ns/op ({hits:,} hits)")
        )

        latencies: list[float] = []
        for i in range(samples):
            event = Event(
                type=EventType.OPT_OUT, number=f"+1555{i:07d}", scope="bench", channel=Channel.SMS
            )
            started = time.perf_counter()
            await store.opt_out(event)
            latencies.append(time.perf_counter() - started)
        table.append(
            (
                f"opt_out commit latency ({samples} samples)",
                f"p50 {percentile(latencies, 0.5) * 1e3:.2f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1e3:.2f} ms, "
                f"mean {statistics.fmean(latencies) * 1e3:.2f} ms",
            )
        )

        started = time.perf_counter()
        changes = await store.changes_since(last, limit=samples + 1)
        took = time.perf_counter() - started
        table.append((f"changes_since ({len(changes)} changes)", f"{took * 1e3:.1f} ms"))
    return table


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to import")
    parser.add_argument("--dir", type=Path, help="directory for the database (default: a temp dir)")
    parser.add_argument("--samples", type=int, default=1000, help="opt_out latency samples")
    parser.add_argument("--lookups", type=int, default=200_000, help="contains() calls to time")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args(argv)

    directory = args.dir or Path(tempfile.mkdtemp(prefix="bench_store_"))
    directory.mkdir(parents=True, exist_ok=True)
    try:
        table = anyio.run(bench, args.rows, directory, args.samples, args.lookups)
    finally:
        if not args.keep:
            for leftover in directory.glob("bench.db*"):
                leftover.unlink()
            if args.dir is None:
                shutil.rmtree(directory, ignore_errors=True)
    width = max(len(name) for name, _ in table)
    print(f"{'measurement':<{width}}  result")
    print(f"{'-' * width}  {'-' * 40}")
    for name, value in table:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
