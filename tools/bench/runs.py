"""One measured load generator run against the simulator ("direct") or the proxy ("proxied"), with
every process's CPU, system calls and context switches over it, and what limited it."""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tools.bench.mixes import SUPPRESSED_POOL
from tools.bench.procfs import cpu_seconds, io_counts, machine_cpu, main_thread_cpu_seconds
from tools.bench.services import BenchError, Service

#: Seconds after the last response before the proxy's CPU is read again: its batched writes of sent
#: counters happen every 0.2 s and belong to the messages just sent.
SETTLE = 0.3


@dataclass
class Context:
    args: argparse.Namespace
    sim: Service
    sim_port: int
    control_port: int
    workdir: Path
    proxy: Service | None = None
    proxy_port: int = 0
    proxy_idle_cpu_per_s: float = 0.0
    next_number: int = 0
    runs: int = 0


def _read_line(stream: IO[str], want: str, timeout: float, proc: subprocess.Popen[str]) -> str:
    """The next line of the load generator starting with ``want`` (a RESULT line with an error fails)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = stream.readline()
        if not line:
            raise BenchError(f"load generator exited (code {proc.poll()}) while waiting for {want}")
        line = line.strip()
        if line.startswith("RESULT ") and want != "RESULT":
            raise BenchError(f"load generator failed: {line[7:]}")
        if line.startswith(want):
            return line
    raise BenchError(f"load generator: no {want} within {timeout:.0f} s")


def run_loadgen(
    ctx: Context,
    *,
    target: str,
    mix: str,
    count: int,
    warmup: int,
    rate: float = 0.0,
    profile_to: Path | None = None,
) -> dict[str, Any]:
    """One measured load generator run against the simulator ("direct") or the proxy ("proxied")."""
    args = ctx.args
    port = ctx.sim_port if target == "direct" else ctx.proxy_port
    base = ctx.next_number
    ctx.next_number += count + warmup
    ctx.runs += 1
    argv = [
        sys.executable, "-m", "tools.loadgen", "--port", str(port), "--mix", mix,
        "--count", str(count), "--warmup", str(warmup), "--window", str(args.window),
        "--binds", str(args.binds), "--number-base", str(base),
        "--suppressed-base", str(base % SUPPRESSED_POOL), "--wait-go", "--timeout", "60",
        "--number-pool", str(args.number_pool),
    ]  # fmt: skip
    if rate:
        argv += ["--rate", str(rate)]
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert proc.stdin is not None and proc.stdout is not None
    spy: subprocess.Popen[bytes] | None = None
    try:
        _read_line(proc.stdout, "READY", 120, proc)
        watched = {"sim": ctx.sim.pid}
        if target == "proxied" and ctx.proxy is not None:
            watched["proxy"] = ctx.proxy.pid
        if profile_to is not None and ctx.proxy is not None:
            spy = subprocess.Popen(
                [
                    shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy")), "record",
                    "--pid", str(ctx.proxy.pid), "--rate", str(args.profile_rate), "--format", "raw",
                    "--output", str(profile_to), "--full-filenames",
                ],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            )  # fmt: skip
            time.sleep(1.0)  # let py-spy attach before the measured phase
        io0 = {name: io_counts(pid) for name, pid in watched.items()}
        main0 = main_thread_cpu_seconds(watched["proxy"]) if "proxy" in watched else 0.0
        cpu0 = {name: cpu_seconds(pid) for name, pid in watched.items()}
        lg0 = cpu_seconds(proc.pid)
        busy0, total0, steal0 = machine_cpu()
        t0 = time.perf_counter()
        proc.stdin.write("GO\n")
        proc.stdin.flush()
        _read_line(proc.stdout, "DONE", 600, proc)
        t1 = time.perf_counter()
        cpu_done = {name: cpu_seconds(pid) for name, pid in watched.items()}
        io_done = {name: io_counts(pid) for name, pid in watched.items()}
        busy1, total1, steal1 = machine_cpu()
        lg1 = cpu_seconds(proc.pid)
        result_line = _read_line(proc.stdout, "RESULT", 60, proc)
        proc.wait(30)
        time.sleep(max(0.0, SETTLE - (time.perf_counter() - t1)))
        settled_at = time.perf_counter()
        cpu_settled = {name: cpu_seconds(pid) for name, pid in watched.items()}
        main_settled = main_thread_cpu_seconds(watched["proxy"]) if "proxy" in watched else 0.0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            try:
                _, err = spy.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                spy.kill()
                _, err = spy.communicate()
            if spy.returncode not in (0, None) and b"Wrote" not in err:
                print(f"  py-spy: {err.decode(errors='replace').strip()[-300:]}", file=sys.stderr)
    result: dict[str, Any] = json.loads(result_line[len("RESULT ") :])
    if "error" in result:
        raise BenchError(f"load generator failed: {result['error']}")
    wall = t1 - t0
    cpu = {name: cpu_done[name] - cpu0[name] for name in watched}
    cpu["loadgen"] = lg1 - lg0
    util = {name: value / wall for name, value in cpu.items()} if wall > 0 else {}
    machine_busy = (busy1 - busy0) / wall if wall > 0 else 0.0
    cores = (total1 - total0) / wall if wall > 0 else 0.0
    result.update(
        target=target,
        wall_s=round(wall, 4),
        cpu_s={name: round(value, 3) for name, value in cpu.items()},
        utilization={name: round(value, 3) for name, value in util.items()},
        machine_busy_cores=round(machine_busy, 2),
        other_load_cores=round(max(0.0, machine_busy - sum(util.values())), 2),
        machine_cores=round(cores, 1),
        steal_cores=round((steal1 - steal0) / wall, 3) if wall > 0 else 0.0,
        limited_by=limiter(util, machine_busy, cores),
    )
    if "proxy" in watched:
        # The proxy's share of the work includes its batched counter writes just after the run; the
        # idle cost of its timers over the settle time is taken off again.
        proxy_cpu = cpu_settled["proxy"] - cpu0["proxy"]
        proxy_cpu -= ctx.proxy_idle_cpu_per_s * (settled_at - t1)
        result["proxy_cpu_us_per_msg"] = round(max(0.0, proxy_cpu) / result["count"] * 1e6, 2)
        # The event loop's thread alone; the rest is the store's threads (audit events, counters).
        result["proxy_loop_cpu_us_per_msg"] = round((main_settled - main0) / result["count"] * 1e6, 2)
    # System calls and context switches per message, by process: how many messages each read, write
    # and wake-up carried (the batching that decides much of the per-message cost).
    result["per_msg"] = {
        name: {
            key: round((io_done[name][key] - io0[name][key]) / result["count"], 3)
            for key in io_done[name]
            if key in io0[name]
        }
        for name in watched
    }
    result["sim_cpu_us_per_msg"] = round(cpu["sim"] / result["count"] * 1e6, 2)
    result["loadgen_cpu_us_per_msg"] = round(result["loadgen_cpu_s"] / result["count"] * 1e6, 2)
    result["problems"] = problems(result)
    return result


def io_line(proxied: dict[str, Any]) -> str:
    """Messages per read and write system call of the proxy and per wait (voluntary context switch)
    of the proxy and the simulator in the proxied run: the batch sizes, which set much of the cost
    per message. (/proc counts read() and write(): the proxy's uvloop uses them; the simulator's
    plain asyncio uses recv() and send(), which it does not count.)"""
    counts = proxied["per_msg"]

    def per(name: str, key: str) -> str:
        value = counts.get(name, {}).get(key, 0.0)
        return f"{1 / value:.0f}" if value else "-"

    return (
        f"msgs per read/write/wait: proxy {per('proxy', 'syscr')}/{per('proxy', 'syscw')}/"
        f"{per('proxy', 'waits')}, sim wait {per('sim', 'waits')}"
    )


def limiter(util: dict[str, float], machine_busy: float, cores: float) -> str:
    """What held the run back, from each process's CPU use over the measured phase.

    A process at >= 85% of a core is the limit. When our processes add up to about one core while the
    machine has more, they are taking turns: a window's worth of messages moves through the chain as
    one batch (each process handles the whole batch, then waits for the next hop), so the busiest one
    is still the limit, only stretched by the others' turns.
    """
    if not util:
        return "unknown"
    top = max(util, key=lambda name: util[name])
    ours = sum(util.values())
    shares = ", ".join(f"{name} {value * 100:.0f}%" for name, value in sorted(util.items()))
    if util[top] >= 0.85:
        return f"{top} CPU-bound ({shares} of a core)"
    if ours >= 0.9 and util[top] >= 0.5 and (not cores or ours < cores - 0.5):
        return f"{top}, in turns ({shares}: {ours:.2f} cores in all, batches move in lockstep)"
    if cores and machine_busy >= 0.85 * cores:
        return f"all {cores:.0f} cores busy ({shares}; machine {machine_busy:.2f} cores)"
    return f"no process CPU-bound ({shares}): window/latency-bound"


def problems(result: dict[str, Any]) -> list[str]:
    out = []
    if result["errors"]:
        out.append(f"{result['errors']} error responses: {result['statuses']}")
    if result["unexpected_pdus"]:
        out.append(f"{result['unexpected_pdus']} unexpected PDUs")
    expected = result["expected_refused_if_proxied"] if result["target"] == "proxied" else 0
    if result["refused_opted_out"] != expected:
        out.append(f"refused {result['refused_opted_out']} (expected {expected})")
    return out
