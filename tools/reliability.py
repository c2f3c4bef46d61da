"""Reliability scenarios against a real ``stopgate run`` process, with measurements.

The tests in ``tests/test_reliability_*.py`` run these with small counts; this script runs them at full
size and prints the figures recorded in ``docs/RELIABILITY.md``::

    python -m tools.reliability cycles --count 1000     # connect/bind/disconnect: fds, tasks, RSS flat
    python -m tools.reliability idle --count 1000       # never-binding connections: memory, bind timeout
    python -m tools.reliability crash --count 2000      # STOP burst + kill -9: opt-outs lost
    python -m tools.reliability all

Each command starts the simulated SMSC in this process and Stopgate as a subprocess (``python -m gateway
run``) with a generated config in a temporary directory, so nothing else needs to be running.
Measurements come from ``/proc/<pid>`` (open fds, RSS) and the admin API's ``stopgate_tasks`` gauge.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from gateway.numbers import normalize_number
from gateway.proxy.link import LinkClosed, ResponseTimeout
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import SubmitSm
from tools.config_toml import simulator_upstream, to_toml
from tools.ports import free_port, wait_port
from tools.smpp_peer import connect_peer
from tools.smsc_sim import NoReceiverError, SimulatedSmsc

SHORT_CODE = "88088"


# --- measuring a process -------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStats:
    """What /proc says about a process."""

    fds: int
    rss_kib: int
    threads: int

    def __str__(self) -> str:
        return f"{self.fds} fds, RSS {self.rss_kib / 1024:.1f} MiB, {self.threads} threads"


def proc_stats(pid: int) -> ProcStats:
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "Threads"):
                values[key] = int(rest.split()[0])
    return ProcStats(fds, values["VmRSS"], values["Threads"])


async def scrape_metrics(admin_port: int) -> dict[str, float]:
    """The admin API's /metrics as {name: value summed over labels}."""
    import httpx

    async with httpx.AsyncClient(timeout=5.0) as client:
        resp = await client.get(f"http://127.0.0.1:{admin_port}/metrics")
    resp.raise_for_status()
    totals: dict[str, float] = {}
    for line in resp.text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        totals[name] = totals.get(name, 0.0) + float(value)
    return totals


@dataclass(frozen=True)
class Snapshot:
    """A process's fds, RSS and threads, plus its asyncio task count (from /metrics)."""

    stats: ProcStats
    tasks: int

    def __str__(self) -> str:
        return f"{self.stats}, {self.tasks} asyncio tasks"


async def snapshot(pid: int, admin_port: int) -> Snapshot:
    stats = proc_stats(pid)  # before the scrape, whose own connection would count as an fd
    metrics = await scrape_metrics(admin_port)
    return Snapshot(stats, int(metrics.get("stopgate_tasks", -1)))


async def settled_stats(pid: int, timeout: float = 2.0) -> ProcStats:
    """The process's stats once its fd count holds still for 100 ms (transient sockets closed)."""
    last = proc_stats(pid)
    with anyio.move_on_after(timeout):
        while True:
            await anyio.sleep(0.1)
            now = proc_stats(pid)
            if now.fds == last.fds:
                return now
            last = now
    return last


async def wait_for(
    predicate: Callable[[], object], timeout: float, what: str, interval: float = 0.02
) -> None:
    """Poll ``predicate`` until true (raises TimeoutError naming ``what``)."""
    try:
        with anyio.fail_after(timeout):
            while not predicate():
                await anyio.sleep(interval)
    except TimeoutError:
        raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None


# --- scenarios -------------------------------------------------------------------------------------


async def connect_cycles(
    port: int, count: int, *, system_id: str = "acme", password: str = "acmepw"
) -> Counter[str]:
    """``count`` connections, each one of four kinds in turn: bind then unbind; bind then a TCP reset;
    bind, three submits in flight, then a reset; connect and reset without a bind."""
    outcomes: Counter[str] = Counter()
    for i in range(count):
        kind = i % 4
        async with connect_peer(port) as esme:
            if kind == 3:
                await esme.abort()
                outcomes["no bind, reset"] += 1
                continue
            await esme.bind(system_id, password)
            if kind == 0:
                resp = await esme.unbind()
                assert resp.command_status == 0, resp
                await esme.wait_closed()
                outcomes["bind, unbind"] += 1
            elif kind == 1:
                await esme.abort()
                outcomes["bind, reset"] += 1
            else:
                for n in range(3):
                    await esme.send_request(
                        SubmitSm(destination_addr=f"44770090{n:04d}", short_message=b"in flight")
                    )
                await esme.abort()
                outcomes["bind, 3 submits in flight, reset"] += 1
    return outcomes


@dataclass
class IdleResult:
    count: int
    before: ProcStats
    held: ProcStats
    after: ProcStats
    #: Seconds from the first connection made to the proxy closing the first one.
    first_dropped_after: float
    #: Seconds from the last connection made to the proxy closing the last one.
    all_dropped_after: float
    closed_by_proxy: int

    @property
    def kib_per_connection(self) -> float:
        return (self.held.rss_kib - self.before.rss_kib) / self.count


async def hold_idle_connections(pid: int, port: int, count: int, *, timeout: float = 30.0) -> IdleResult:
    """Open ``count`` TCP connections that never send a byte; measure the proxy while it holds them and
    after it drops them (the bind timeout). Every connection must be closed by the proxy."""
    before = await settled_stats(pid)
    streams: list[anyio.abc.SocketStream] = []
    started = anyio.current_time()

    async def open_one() -> None:
        streams.append(await anyio.connect_tcp("127.0.0.1", port))

    for start in range(0, count, 100):
        async with anyio.create_task_group() as tg:
            for _ in range(min(100, count - start)):
                tg.start_soon(open_one)
    opened = anyio.current_time()
    # (a little slack: a probe connection of the caller's may have been counted in the baseline)
    await wait_for(
        lambda: proc_stats(pid).fds >= before.fds + count - 3, 10.0, f"{count} accepted connections"
    )
    held = proc_stats(pid)
    closed_at: list[float] = []

    async def wait_eof(stream: anyio.abc.SocketStream) -> None:
        try:
            data = await stream.receive()
            raise AssertionError(f"the proxy sent {data!r} to a silent connection")
        except (anyio.EndOfStream, anyio.BrokenResourceError):
            closed_at.append(anyio.current_time())
        finally:
            await stream.aclose()

    with anyio.fail_after(timeout):
        async with anyio.create_task_group() as tg:
            for stream in streams:
                tg.start_soon(wait_eof, stream)
    await wait_for(lambda: proc_stats(pid).fds <= before.fds, 10.0, "the proxy's fds to return")
    first, last = min(closed_at) - started, max(closed_at) - opened
    return IdleResult(count, before, held, proc_stats(pid), first, last, len(closed_at))


@dataclass
class BurstResult:
    sent: int = 0
    acked: set[str] = field(default_factory=set)
    refused: Counter[int] = field(default_factory=Counter)
    unanswered: int = 0
    not_sent: int = 0
    killed_after_acks: int | None = None


async def stop_burst(
    smsc: SimulatedSmsc,
    numbers: list[str],
    *,
    kill_after: int | None,
    kill: Callable[[], object],
    concurrency: int = 32,
    timeout: float = 10.0,
) -> BurstResult:
    """The SMSC sends STOP from every number (``concurrency`` at a time); once ``kill_after`` of them
    have been acknowledged with ESME_ROK, ``kill()`` is called (kill -9) while the rest are in flight.
    Returns which numbers the SMSC saw acknowledged."""
    result = BurstResult()
    limiter = anyio.CapacityLimiter(concurrency)
    killed = False

    async def one(number: str) -> None:
        nonlocal killed
        async with limiter:
            if killed:
                result.not_sent += 1
                return
            result.sent += 1
            try:
                resp = await smsc.deliver(
                    source_addr=number, destination_addr=SHORT_CODE, text="STOP", timeout=timeout
                )
            except (LinkClosed, ResponseTimeout, NoReceiverError):
                result.unanswered += 1
                return
            if resp.command_status != CommandStatus.ESME_ROK:
                result.refused[resp.command_status] += 1
                return
            result.acked.add(number)
            if kill_after is not None and not killed and len(result.acked) >= kill_after:
                killed = True
                result.killed_after_acks = len(result.acked)
                kill()

    async with anyio.create_task_group() as tg:
        for number in numbers:
            tg.start_soon(one, number)
    return result


def burst_numbers(count: int, first: int = 0) -> list[str]:
    """Distinct UK mobile numbers (international format, TON 1)."""
    return [f"447700{first + i:06d}" for i in range(count)]


def suppressed_in_file(db: Path, scope: str) -> set[str]:
    """Every suppressed number of ``scope``, read straight from the SQLite file (the proxy is dead)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT number FROM suppressions WHERE scope = ?", (scope,)).fetchall()
    finally:
        conn.close()
    return {row[0] for row in rows}


def lost_optouts(acked: set[str], suppressed: set[str], default_country: str = "GB") -> set[str]:
    """Numbers whose STOP the SMSC saw acknowledged but that the store does not hold."""
    lost = set()
    for number in acked:
        e164 = normalize_number(number, 1, 1, default_country)
        if e164 not in suppressed:
            lost.add(number)
    return lost


# --- running Stopgate for the CLI -------------------------------------------------------------------


def config_text(smsc_port: int, port: int, admin_port: int, **session: float) -> str:
    settings = {"response_timeout": 2.0, "shutdown_grace": 1.0, "bind_timeout": 5.0, **session}
    return to_toml(
        {
            "listen": {"host": "127.0.0.1", "port": port},
            "storage": {"path": "stopgate.db"},
            "logging": {"format": "json", "level": "warning"},
            "session": settings,
            "admin": {"enabled": True, "listen": f"127.0.0.1:{admin_port}", "tokens": ["reliability"]},
            "upstream": [simulator_upstream(smsc_port)],
            "account": [
                {"system_id": "acme", "password": "acmepw", "upstream": "sim", "scope": "acme"}
                | {"max_sessions": 100}
            ],
        }
    )


@dataclass
class Running:
    process: anyio.abc.Process
    port: int
    admin_port: int
    directory: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def running_stopgate(
    directory: Path,
    smsc_port: int,
    *,
    session: dict[str, float] | None = None,
) -> AsyncIterator[Running]:
    """`stopgate run` on free ports with ``config_text``'s config; SIGTERM (then SIGKILL) at the end."""
    port = free_port()
    admin_port = free_port()
    config = directory / "stopgate.toml"
    config.write_text(config_text(smsc_port, port, admin_port, **(session or {})))
    with open(directory / "stopgate.log", "ab") as log:
        process = await anyio.open_process(
            [sys.executable, "-m", "gateway", "run", "--config", str(config)],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            await wait_port(port)
            await wait_port(admin_port)
            yield Running(process, port, admin_port, directory)
        finally:
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with anyio.move_on_after(5):
                    await process.wait()
            if process.returncode is None:
                process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()


@contextlib.asynccontextmanager
async def sim_and_stopgate(directory: Path, **session: float) -> AsyncIterator[tuple[SimulatedSmsc, Running]]:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"}, keep=1000)
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        async with running_stopgate(directory, smsc.port, session=session) as running:
            yield smsc, running
        await smsc.stop()
        tg.cancel_scope.cancel()


# --- the CLI ---------------------------------------------------------------------------------------


async def run_cycles(directory: Path, count: int, warmup: int) -> dict[str, Any]:
    async with sim_and_stopgate(directory) as (smsc, stopgate):
        await connect_cycles(stopgate.port, warmup)
        await smsc.wait_until(lambda: not smsc.sessions, 10)
        before = await snapshot(stopgate.pid, stopgate.admin_port)
        started = time.perf_counter()
        outcomes = await connect_cycles(stopgate.port, count)
        elapsed = time.perf_counter() - started
        await smsc.wait_until(lambda: not smsc.sessions, 10)
        await wait_for(lambda: proc_stats(stopgate.pid).fds <= before.stats.fds, 10, "fds to settle")
        after = await snapshot(stopgate.pid, stopgate.admin_port)
        return {
            "cycles": count,
            "kinds": dict(outcomes),
            "seconds": round(elapsed, 2),
            "before": str(before),
            "after": str(after),
            "fds": [before.stats.fds, after.stats.fds],
            "rss_kib": [before.stats.rss_kib, after.stats.rss_kib],
            "tasks": [before.tasks, after.tasks],
            "upstream_binds": smsc.counters["binds"],
            "upstream_unbinds": smsc.counters["unbinds"],
        }


async def run_idle(directory: Path, count: int, bind_timeout: float, rounds: int = 1) -> dict[str, Any]:
    """``rounds`` rounds on one process: memory freed by a round is reused by the next (no growth)."""
    async with sim_and_stopgate(directory, bind_timeout=bind_timeout) as (_, stopgate):
        results = [await hold_idle_connections(stopgate.pid, stopgate.port, count) for _ in range(rounds)]
        alive = stopgate.process.returncode is None
        first = results[0]
        return {
            "connections": count,
            "rounds": rounds,
            "bind_timeout": bind_timeout,
            "before": str(first.before),
            "held": [str(r.held) for r in results],
            "after": [str(r.after) for r in results],
            "kib_per_connection": round(first.kib_per_connection, 1),
            "closed_by_proxy": [r.closed_by_proxy for r in results],
            "first_dropped_after_s": [round(r.first_dropped_after, 2) for r in results],
            "all_dropped_after_s": [round(r.all_dropped_after, 2) for r in results],
            "proxy_alive": alive,
        }


async def run_crash(directory: Path, count: int, seed: int) -> dict[str, Any]:
    rng = random.Random(seed)
    kill_after = rng.randint(count // 10, count * 9 // 10)
    numbers = burst_numbers(count)
    smsc = SimulatedSmsc(users={"proxy": "proxypw"}, keep=1000)
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        async with running_stopgate(directory, smsc.port) as stopgate:
            async with connect_peer(stopgate.port) as esme:
                await esme.bind("acme", "acmepw")
                await smsc.wait_for_binds(1)
                started = time.perf_counter()
                result = await stop_burst(smsc, numbers, kill_after=kill_after, kill=stopgate.process.kill)
                elapsed = time.perf_counter() - started
            await stopgate.process.wait()
        suppressed = suppressed_in_file(directory / "stopgate.db", "acme")
        lost = lost_optouts(result.acked, suppressed)
        # Restart on the same file: every acknowledged number is refused.
        async with running_stopgate(directory, smsc.port) as stopgate, connect_peer(stopgate.port) as esme:
            await esme.bind("acme", "acmepw")
            before = smsc.submit_count
            sample = sorted(result.acked)[:: max(1, len(result.acked) // 50)]
            statuses: Counter[int] = Counter()
            for number in sample:
                resp = await esme.request(
                    SubmitSm(destination_addr=number, dest_addr_ton=1, short_message=b"x")
                )
                statuses[resp.command_status] += 1
            reached = smsc.submit_count - before
        await smsc.stop()
        tg.cancel_scope.cancel()
    return {
        "stops": count,
        "seed": seed,
        "kill_after_acks": result.killed_after_acks,
        "acked": len(result.acked),
        "sent_before_kill": result.sent,
        "unanswered": result.unanswered,
        "refused": {f"0x{k:08x}": v for k, v in result.refused.items()},
        "suppressed_in_store": len(suppressed),
        "lost": len(lost),
        "seconds_until_kill": round(elapsed, 2),
        "after_restart_sample": len(sample),
        "after_restart_statuses": {f"0x{k:08x}": v for k, v in statuses.items()},
        "after_restart_reached_smsc": reached,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.reliability", description=__doc__.split("\n")[0])
    parser.add_argument("scenario", choices=("cycles", "idle", "crash", "all"))
    parser.add_argument("--count", type=int, default=None, help="default: 1000 (cycles, idle), 2000 (crash)")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--bind-timeout", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=1, help="idle: rounds on the same process")
    args = parser.parse_args(argv)

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    results: dict[str, Any] = {}
    scenarios = ("cycles", "idle", "crash") if args.scenario == "all" else (args.scenario,)
    for scenario in scenarios:
        with tempfile.TemporaryDirectory(prefix=f"stopgate-{scenario}-") as tmp:
            directory = Path(tmp)
            if scenario == "cycles":
                results[scenario] = anyio.run(run_cycles, directory, args.count or 1000, args.warmup)
            elif scenario == "idle":
                results[scenario] = anyio.run(
                    run_idle, directory, args.count or 1000, args.bind_timeout, args.rounds
                )
            else:
                seed = args.seed if args.seed is not None else random.randrange(1 << 30)
                results[scenario] = anyio.run(run_crash, directory, args.count or 2000, seed)
        print(json.dumps({scenario: results[scenario]}, indent=2), flush=True)
    failed = (
        results.get("crash", {}).get("lost", 0) != 0 or results.get("idle", {}).get("proxy_alive") is False
    )
    return 1 if failed else 0


__all__ = [
    "BurstResult",
    "IdleResult",
    "ProcStats",
    "Snapshot",
    "burst_numbers",
    "connect_cycles",
    "hold_idle_connections",
    "lost_optouts",
    "proc_stats",
    "scrape_metrics",
    "snapshot",
    "stop_burst",
    "suppressed_in_file",
    "wait_for",
]

if __name__ == "__main__":
    sys.exit(main())
