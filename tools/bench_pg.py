"""PostgreSQL vs SQLite store figures, same machine, same run.

    python -m tools.bench_pg --rows 1000000 [--url postgresql://postgres@127.0.0.1/postgres]
    python -m tools.bench_pg --load-url postgresql://postgres@127.0.0.1/stopgate [--repeat 3]

For each backend: bulk import of N rows, start-up load of the suppressions into the index in a fresh
process (time and peak RSS, as `stopgate run` does it), and the commit latency of ``opt_out`` on the
populated store. For PostgreSQL also the propagation delay of an opt-out committed through one store
instance to a ChangeFollower on another (NOTIFY wake-up + feed read; both in this process). The
PostgreSQL database is created for the run (stopgate_bench_<random>) and dropped after it.
With ``--load-url`` only the start-up load is measured, from an existing database (nothing written):
a large store loaded again without a long import transaction on a shared server.
"""

from __future__ import annotations

import argparse
import json
import resource
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import anyio
import psycopg

from gateway.store.backends import make_store
from gateway.store.base import Store
from gateway.store.feed import ChangeFollower
from gateway.store.index import build_index
from gateway.store.model import Channel, Event, EventType
from gateway.store.postgres import PostgresStore
from tools.bench_store import percentile, rows


def _event(i: int, prefix: str = "+1555") -> Event:
    return Event(type=EventType.OPT_OUT, number=f"{prefix}{i:07d}", scope="bench", channel=Channel.SMS)


async def _import_and_commit(store: Store, n: int, samples: int) -> dict[str, float]:
    async with store:
        return await _measure_writes(store, n, samples)


async def _measure_writes(store: Store, n: int, samples: int) -> dict[str, float]:
    started = time.perf_counter()
    await store.import_suppressions(rows(n, 1), channel=Channel.IMPORT, reason="bench")
    imported = time.perf_counter() - started
    latencies = []
    for i in range(samples):
        started = time.perf_counter()
        await store.opt_out(_event(i))
        latencies.append(time.perf_counter() - started)
    return {
        "import_s": imported,
        "opt_out_p50_ms": percentile(latencies, 0.5) * 1e3,
        "opt_out_p99_ms": percentile(latencies, 0.99) * 1e3,
    }


async def _propagation(url: str, samples: int) -> dict[str, float]:
    """Commit through store A, time until a follower on store B (its own pool) holds it."""
    async with PostgresStore(url) as a, PostgresStore(url) as b:
        index, last = await build_index(b)
        follower = ChangeFollower(b, index, after_id=last, interval=0.25)
        delays = []
        async with anyio.create_task_group() as tg:
            tg.start_soon(follower.run)
            await anyio.sleep(0.3)
            for i in range(samples):
                event = _event(i, "+1666")
                started = time.perf_counter()
                await a.opt_out(event)
                while not index.contains("bench", event.number):
                    await anyio.sleep(0.0005)
                delays.append(time.perf_counter() - started)
            tg.cancel_scope.cancel()
    return {
        "propagation_p50_ms": percentile(delays, 0.5) * 1e3,
        "propagation_p99_ms": percentile(delays, 0.99) * 1e3,
    }


async def _load_only(path: str, url: str | None) -> dict[str, float]:
    started = time.perf_counter()
    async with make_store(path, url) as store:
        index, _ = await build_index(store)
    took = time.perf_counter() - started
    return {
        "load_s": took,
        "load_peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "loaded": float(len(index)),
    }


def _load_in_fresh_process(path: str, url: str | None) -> dict[str, float]:
    argv = [sys.executable, "-m", "tools.bench_pg", "--load-only", path]
    if url:
        argv += ["--load-url", url]
    out = subprocess.run(argv, check=True, capture_output=True, text=True).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def _database_url(admin_url: str, name: str) -> str:
    return urlunsplit(urlsplit(admin_url)._replace(path=f"/{name}"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="rows to import")
    parser.add_argument("--samples", type=int, default=500, help="opt_out latency samples")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres",
                        help="a PostgreSQL server whose user may CREATE DATABASE")
    parser.add_argument("--only", choices=("sqlite", "postgres"), help="measure one backend only")
    parser.add_argument("--load-only", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--load-url", help="only time loading this existing database, in fresh processes")
    parser.add_argument("--repeat", type=int, default=1, help="loads to time with --load-url")
    args = parser.parse_args(argv)
    if args.load_only:
        print(json.dumps(anyio.run(_load_only, args.load_only, args.load_url)))
        return
    if args.load_url:
        for _ in range(args.repeat):
            print(json.dumps(_load_in_fresh_process("unused.db", args.load_url)), flush=True)
        return

    results: dict[str, dict[str, float]] = {}
    directory = Path(tempfile.mkdtemp(prefix="bench_pg_"))
    name = f"stopgate_bench_{secrets.token_hex(4)}"
    with psycopg.connect(args.url, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    url = _database_url(args.url, name)
    try:
        db_path = str(directory / "bench.db")
        if args.only != "postgres":
            results["sqlite"] = anyio.run(_import_and_commit, make_store(db_path), args.rows, args.samples)
            results["sqlite"] |= _load_in_fresh_process(db_path, None)
            print(json.dumps({"sqlite": results["sqlite"]}), flush=True)  # kept if a later step fails
        if args.only != "sqlite":
            results["postgres"] = anyio.run(_import_and_commit, PostgresStore(url), args.rows, args.samples)
            results["postgres"] |= _load_in_fresh_process(db_path, url)
            print(json.dumps({"postgres": results["postgres"]}), flush=True)
            results["postgres"] |= anyio.run(_propagation, url, min(args.samples, 300))
    finally:
        shutil.rmtree(directory, ignore_errors=True)
        with psycopg.connect(args.url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())

    keys = sorted({k for r in results.values() for k in r})
    print(f"{'measurement':<22} " + " ".join(f"{b:>12}" for b in results))
    for key in keys:
        cells = [f"{results[b][key]:12.2f}" if key in results[b] else f"{'-':>12}" for b in results]
        print(f"{key:<22} {' '.join(cells)}")


if __name__ == "__main__":
    main()
