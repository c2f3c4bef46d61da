"""Reliability scenarios against a running Stopgate: connect/bind/disconnect cycles, connections
that never bind, and a burst of STOPs cut short by kill -9 (with how to count what was lost)."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import anyio
import anyio.abc

from gateway.numbers import normalize_number
from gateway.proxy.link import LinkClosed, ResponseTimeout
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import SubmitSm
from tools.reliability.measure import ProcStats, proc_stats, settled_stats, wait_for
from tools.smpp_peer import connect_peer
from tools.smsc_sim import NoReceiverError, SimulatedSmsc

__all__ = [
    "SHORT_CODE",
    "BurstResult",
    "IdleResult",
    "burst_numbers",
    "connect_cycles",
    "hold_idle_connections",
    "lost_optouts",
    "stop_burst",
    "suppressed_in_file",
]

#: The short code the STOP burst is sent to.
SHORT_CODE = "88088"


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
