"""``python -m tools.reliability``: the scenarios at full size, their figures printed as JSON."""

from __future__ import annotations

import argparse
import json
import logging
import random
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import anyio

from gateway.smpp.pdu import SubmitSm
from tools.reliability.measure import proc_stats, snapshot, wait_for
from tools.reliability.scenarios import (
    burst_numbers,
    connect_cycles,
    hold_idle_connections,
    lost_optouts,
    stop_burst,
    suppressed_in_file,
)
from tools.reliability.stack import running_stopgate, sim_and_stopgate
from tools.smpp_peer import connect_peer
from tools.smsc_sim import SimulatedSmsc

__all__ = ["main"]


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
