"""Measuring a process from the outside: ``/proc`` (open fds, RSS, threads) and the admin API's
``/metrics`` (asyncio tasks), and waiting on a condition that has no event to wait for."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import anyio

__all__ = ["ProcStats", "Snapshot", "proc_stats", "scrape_metrics", "settled_stats", "snapshot", "wait_for"]


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
