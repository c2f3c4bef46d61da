"""Stopgate throughput benchmark: the same load, straight into the simulated SMSC and through the proxy.

    python -m tools.bench                      # full default run (~4 min on 2 cores)
    python -m tools.bench --quick              # smoke run: 10,000 messages, 1 repetition
    python -m tools.bench --store-size 0,10M --mix marketing,suppressed   # the 10M-suppression store

Processes (each its own interpreter, so none shares a core's time slice with another by design):
the simulator (``python -m tools.smsc_sim``), a real ``python -m gateway run`` with a temporary config
and store, and one load generator (``python -m tools.loadgen``) per measured run. For every message mix
and repetition the load generator runs once against the simulator ("direct") and once through the proxy
("proxied"), back to back. Around the measured phase this process reads ``/proc/<pid>/stat`` of the
proxy and the simulator (and the load generator reports its own CPU time), so every run says how busy
each process was and therefore what limited it.

Reported (table on stdout, JSON in ``--output``): throughput direct and proxied and their ratio, latency
p50/p99 for both and the p99 the proxy adds, the proxy's CPU time per message, the proxy's RSS and
start-up time per store size, the throughput cost of a large store against the empty one, the p99 added
at a steady ``--rate``, and whether an opt-out that just arrived (STOP through the simulator's control
port) refuses the very next submit. Medians over ``--repeat`` repetitions; the ratio is the median of the
repetitions' own ratios (each taken from a direct and a proxied run back to back).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from tools.bench_common import (
    DEFAULT_MIXES,
    MIXES,
    SUPPRESSED_POOL,
    cached_store,
    copy_store,
    cpu_seconds,
    io_counts,
    machine_cpu,
    main_thread_cpu_seconds,
    median,
    memory_kib,
    optout_visibility,
    store_rows,
    summarize_collapsed,
    tree_digest,
    wait_port,
    wakeup_penalty,
    write_config,
)
from tools.ports import free_port

TARGETS = {
    "cpu_us_per_msg": 30.0,
    "ratio": 0.5,
    "added_p99_ms": 2.0,
    "store_cost": 0.10,
    "rss_mb": 400.0,
    "ready_s": 15.0,
}
#: Seconds after the last response before the proxy's CPU is read again: its batched writes of sent
#: counters happen every 0.2 s and belong to the messages just sent.
SETTLE = 0.3


class BenchError(RuntimeError):
    pass


# --- processes -------------------------------------------------------------------------------------


@dataclass
class Service:
    """A child process whose output goes to a log file, watched line by line by a thread."""

    name: str
    popen: subprocess.Popen[bytes]
    log_path: Path
    started: float
    ready_line: dict[str, Any] | None = None
    ready_at: float | None = None
    _ready: threading.Event = field(default_factory=threading.Event)

    @classmethod
    def start(cls, name: str, argv: list[str], log_path: Path) -> Service:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        popen = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        service = cls(name, popen, log_path, time.perf_counter())
        threading.Thread(target=service._pump, daemon=True).start()
        return service

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def _pump(self) -> None:
        assert self.popen.stdout is not None
        with self.log_path.open("wb") as log:
            for line in self.popen.stdout:
                log.write(line)
                log.flush()
                if self.ready_line is None and b'"ready"' in line:
                    with contextlib.suppress(ValueError):
                        record = json.loads(line)
                        if isinstance(record, dict) and record.get("event") == "ready":
                            self.ready_at = time.perf_counter()
                            self.ready_line = record
                            self._ready.set()
        self._ready.set()

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        if not self._ready.wait(timeout) or self.ready_line is None:
            raise BenchError(f"{self.name} did not log 'ready' within {timeout:.0f} s; see {self.log_path}")
        return self.ready_line

    def stop(self) -> None:
        if self.alive():
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)


def log_lines(path: Path) -> int:
    try:
        with path.open("rb") as f:
            return sum(1 for _ in f)
    except OSError:
        return 0


# --- one load generator run ---------------------------------------------------------------------


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


def _io_line(proxied: dict[str, Any]) -> str:
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


# --- summaries --------------------------------------------------------------------------------------


def summarize_pairs(runs: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, Any]:
    """Medians over the (direct, proxied) pairs of one mix or rate."""
    direct = [d for d, _ in runs]
    proxied = [p for _, p in runs]

    def med(items: list[dict[str, Any]], *path: str) -> float:
        values = []
        for item in items:
            value: Any = item
            for key in path:
                value = value[key]
            values.append(float(value))
        return round(median(values), 3)

    d_thr, p_thr = med(direct, "throughput"), med(proxied, "throughput")
    out = {
        "runs": len(runs),
        "direct_throughput": d_thr,
        "proxied_throughput": p_thr,
        # Each repetition runs direct and proxied back to back, so their ratio is taken in one phase of
        # the machine (whose speed drifts by up to 1.7x over seconds here): the median of those paired
        # ratios is the figure reported; the ratio of the two medians mixes phases and is kept beside it.
        "ratio": round(median(p["throughput"] / d["throughput"] for d, p in runs), 3),
        "ratio_of_medians": round(p_thr / d_thr, 3) if d_thr else 0.0,
        "ratios": [round(p["throughput"] / d["throughput"], 3) for d, p in runs],
        "direct_p50_ms": med(direct, "latency_ms", "p50"),
        "direct_p99_ms": med(direct, "latency_ms", "p99"),
        "proxied_p50_ms": med(proxied, "latency_ms", "p50"),
        "proxied_p99_ms": med(proxied, "latency_ms", "p99"),
        "proxy_cpu_us_per_msg": med(proxied, "proxy_cpu_us_per_msg"),
        "sim_cpu_us_per_msg_direct": med(direct, "sim_cpu_us_per_msg"),
        "loadgen_cpu_us_per_msg": med(direct + proxied, "loadgen_cpu_us_per_msg"),
        "proxy_utilization": med(proxied, "utilization", "proxy"),
        "other_load_cores": med(direct + proxied, "other_load_cores"),
        "limited_by_direct": _median_run(direct)["limited_by"],
        "limited_by_proxied": _median_run(proxied)["limited_by"],
        "problems": sorted({problem for run in direct + proxied for problem in run["problems"]}),
    }
    out["added_p50_ms"] = round(out["proxied_p50_ms"] - out["direct_p50_ms"], 3)
    out["added_p99_ms"] = round(out["proxied_p99_ms"] - out["direct_p99_ms"], 3)
    out["added_p99_per_pair_median_ms"] = round(
        median(p["latency_ms"]["p99"] - d["latency_ms"]["p99"] for d, p in runs), 3
    )
    return out


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["throughput"])
    return ordered[(len(ordered) - 1) // 2]


# --- the benchmark ----------------------------------------------------------------------------------


def parse_size(text: str) -> int:
    text = text.strip().lower().replace("_", "").replace(",", "")
    if text in ("empty", "0", ""):
        return 0
    scale = 1
    if text.endswith("m"):
        scale, text = 1_000_000, text[:-1]
    elif text.endswith("k"):
        scale, text = 1_000, text[:-1]
    return int(float(text) * scale)


def start_proxy(ctx: Context, size: int) -> dict[str, Any]:
    """Prepare the store of ``size`` suppressions, start `stopgate run` on it, measure start-up."""
    args = ctx.args
    info: dict[str, Any] = {"size": size, "rows": store_rows(size)}
    cached, built = cached_store(size, Path(args.store_cache))
    if built is not None:
        print(f"  built the {store_rows(size):,}-row store in {built:.1f} s ({cached})", flush=True)
        info["build_s"] = round(built, 2)
    storage = ctx.workdir / f"stopgate-{size}.db"
    info["copy_s"] = round(copy_store(cached, storage), 2)
    info["db_mb"] = round(storage.stat().st_size / 2**20, 1)
    ctx.proxy_port = free_port()
    config = write_config(
        ctx.workdir,
        smsc_port=ctx.sim_port,
        listen_port=ctx.proxy_port,
        storage=storage,
        window=max(64, args.window),
        max_sessions=max(10, args.binds + 2),
        log_level=args.proxy_log_level,
    )
    log_path = ctx.workdir / f"stopgate-{size}.log"
    proxy = Service.start(
        "stopgate", [sys.executable, "-m", "gateway", "run", "--config", str(config)], log_path
    )
    ctx.proxy = proxy
    if args.proxy_log_level == "info":
        ready = proxy.wait_ready(args.ready_timeout)
        wait_port(ctx.proxy_port, 10, proxy.alive)
    else:  # no "ready" line at warning level: serving means accepting connections
        wait_port(ctx.proxy_port, args.ready_timeout, proxy.alive)
        proxy.ready_at, ready = time.perf_counter(), {}
    assert proxy.ready_at is not None
    info["ready_startup_seconds"] = ready.get("startup_seconds")
    info["spawn_to_ready_s"] = round(proxy.ready_at - proxy.started, 3)
    info["suppressed_loaded"] = ready.get("suppressed")
    info["rss_ready_mb"] = round(memory_kib(proxy.pid).get("VmRSS", 0) / 1024, 1)
    time.sleep(0.5)
    c0, t0 = cpu_seconds(proxy.pid), time.perf_counter()
    time.sleep(1.5)
    ctx.proxy_idle_cpu_per_s = (cpu_seconds(proxy.pid) - c0) / (time.perf_counter() - t0)
    info["idle_cpu_percent"] = round(ctx.proxy_idle_cpu_per_s * 100, 2)
    info["log_lines_at_ready"] = log_lines(log_path)
    return info


def run_store(ctx: Context, size: int, mixes: list[str]) -> dict[str, Any]:
    args = ctx.args
    label = "empty" if size == 0 else f"{size:,}"
    print(f"\n== store {label} ({store_rows(size):,} suppressed rows) ==", flush=True)
    info = start_proxy(ctx, size)
    assert ctx.proxy is not None
    print(
        f"  stopgate ready in {info['ready_startup_seconds']} s"
        f" (spawn to ready {info['spawn_to_ready_s']} s),"
        f" RSS {info['rss_ready_mb']} MB, idle CPU {info['idle_cpu_percent']}%",
        flush=True,
    )
    info["mixes"] = {}
    raw: dict[str, Any] = {}
    for mix in mixes:
        pairs = []
        for rep in range(args.repeat):
            direct = run_loadgen(ctx, target="direct", mix=mix, count=args.count, warmup=args.warmup)
            proxied = run_loadgen(ctx, target="proxied", mix=mix, count=args.count, warmup=args.warmup)
            pairs.append((direct, proxied))
            print(
                f"  {mix:<13} rep {rep + 1}: direct {direct['throughput']:>9,.0f} msg/s"
                f"  proxied {proxied['throughput']:>9,.0f} msg/s"
                f"  ratio {proxied['throughput'] / direct['throughput']:.2f}"
                f"  proxy {proxied.get('proxy_cpu_us_per_msg', 0):.1f} us/msg"
                f" (loop {proxied.get('proxy_loop_cpu_us_per_msg', 0):.1f})"
                f"  [{proxied['limited_by']}]"
                f"  {_io_line(proxied)}"
                + (f"  steal {direct['steal_cores']:.2f}/{proxied['steal_cores']:.2f} cores"
                   if direct["steal_cores"] or proxied["steal_cores"] else "")
                + (f"  PROBLEMS: {direct['problems'] + proxied['problems']}"
                   if direct["problems"] or proxied["problems"] else ""),
                flush=True,
            )  # fmt: skip
        summary = summarize_pairs(pairs)
        summary["proxy_does"] = MIXES[mix].proxy_does
        info["mixes"][mix] = summary
        raw[mix] = [{"direct": d, "proxied": p} for d, p in pairs]
        if args.profile:
            out = Path(args.profile) / f"proxy-{mix}-store{size}.txt"
            out.parent.mkdir(parents=True, exist_ok=True)
            run_loadgen(ctx, target="proxied", mix=mix, count=args.count, warmup=args.warmup, profile_to=out)
            if out.exists():
                summary["profile"] = summarize_collapsed(out)
                summary["profile"]["file"] = str(out)
                top = ", ".join(f"{name} {pct}%" for name, pct in summary["profile"]["gateway_self"][:5])
                print(f"  profile ({summary['profile']['samples']} samples) -> {out}: {top}", flush=True)
    if args.rate:
        count = int(args.rate * args.rate_duration)
        pairs = []
        for rep in range(args.repeat):
            direct, proxied = (
                run_loadgen(ctx, target=target, mix="marketing", count=count, warmup=1000, rate=args.rate)
                for target in ("direct", "proxied")
            )
            pairs.append((direct, proxied))
            print(
                f"  rate {args.rate:,.0f}/s rep {rep + 1}: p99 direct {direct['latency_ms']['p99']:.2f} ms"
                f"  proxied {proxied['latency_ms']['p99']:.2f} ms"
                f"  (p50 {direct['latency_ms']['p50']:.2f} / {proxied['latency_ms']['p50']:.2f} ms;"
                f" schedule lag p99 {direct['schedule_lag_ms']['p99']:.2f} / "
                f"{proxied['schedule_lag_ms']['p99']:.2f} ms)",
                flush=True,
            )
        info["rate"] = summarize_pairs(pairs)
        info["rate"]["rate"] = args.rate
        info["rate"]["count"] = count
        if args.profile:
            out = Path(args.profile) / f"proxy-rate{args.rate:.0f}-store{size}.txt"
            run_loadgen(
                ctx, target="proxied", mix="marketing", count=count, warmup=1000, rate=args.rate,
                profile_to=out,
            )  # fmt: skip
            if out.exists():
                info["rate"]["profile"] = summarize_collapsed(out)
                info["rate"]["profile"]["file"] = str(out)
        raw["rate"] = [{"direct": d, "proxied": p} for d, p in pairs]
    number = f"4479{int(time.time() * 1000) % 10**8:08d}"
    try:
        info["optout_visibility"] = optout_visibility(ctx.proxy_port, ctx.control_port, number)
    except Exception as exc:
        info["optout_visibility"] = {"error": f"{type(exc).__name__}: {exc}", "refused_at_once": False}
    vis = info["optout_visibility"]
    print(
        f"  new opt-out refused at once: {vis.get('refused_at_once')}"
        f" (STOP acknowledged in {vis.get('stop_ack_ms')} ms, refusal {vis.get('stop_to_refusal_ms')} ms"
        f" after the STOP was sent){' ' + vis['error'] if 'error' in vis else ''}",
        flush=True,
    )
    mem = memory_kib(ctx.proxy.pid)
    info["rss_after_mb"] = round(mem.get("VmRSS", 0) / 1024, 1)
    info["rss_peak_mb"] = round(mem.get("VmHWM", 0) / 1024, 1)
    ctx.proxy.stop()
    info["log_lines_total"] = log_lines(ctx.proxy.log_path)
    info["proxy_exit_code"] = ctx.proxy.popen.returncode
    ctx.proxy = None
    info["raw"] = raw
    return info


def environment() -> dict[str, Any]:
    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "loadavg_at_start": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }
    try:
        import uvloop  # noqa: F401

        env["uvloop_installed"] = True
    except ImportError:
        env["uvloop_installed"] = False
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        root = Path(__file__).resolve().parent.parent
        env["git_commit"] = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=root, capture_output=True, text=True, check=False
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root, capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        env["git_dirty_files"] = len(status.splitlines())
        env["gateway_digest"] = tree_digest(root / "gateway")
    env["wakeup_penalty"] = wakeup_penalty()
    return env


# --- report --------------------------------------------------------------------------------------


def _fmt_rate(value: float) -> str:
    return f"{value:,.0f}"


def render(results: dict[str, Any]) -> str:
    cfg = results["config"]
    lines = [
        "",
        f"Stopgate benchmark: {cfg['count']:,} submit_sm per run, window {cfg['window']},"
        f" {cfg['binds']} bind(s), median of {cfg['repeat']}; {cfg['machine_cpus']} CPUs shared by"
        " load generator, simulator and proxy",
        f"destinations: {cfg['numbers']}",
        "ratio: the median of each repetition's proxied/direct (the two run back to back)",
    ]
    wake = results.get("environment", {}).get("wakeup_penalty")
    if wake:
        lines.append(
            "this machine: one message's decode + footer takes "
            + ", ".join(f"{value} us {key[:-3].replace('_', ' ')}" for key, value in wake.items())
            + " (cold caches after idling inflate per-message CPU at moderate rates)"
        )
    for store in results["stores"]:
        label = "empty" if store["size"] == 0 else f"{store['size']:,}"
        lines += [
            "",
            f"Store: {label} ({store['rows']:,} suppressed rows; the {SUPPRESSED_POOL:,}-number test pool is"
            " in every store)",
            f"{'mix':<13} {'direct/s':>9} {'proxied/s':>9} {'ratio':>5} {'p50 d/p ms':>12} {'p99 d/p ms':>12}"
            f" {'+p99 ms':>7} {'proxy us/msg':>12}  limited by (proxied run)",
        ]
        for mix, s in store["mixes"].items():
            lines.append(
                f"{mix:<13} {_fmt_rate(s['direct_throughput']):>9} {_fmt_rate(s['proxied_throughput']):>9}"
                f" {s['ratio']:>5.2f} {s['direct_p50_ms']:>5.2f}/{s['proxied_p50_ms']:<6.2f}"
                f" {s['direct_p99_ms']:>5.2f}/{s['proxied_p99_ms']:<6.2f} {s['added_p99_ms']:>7.2f}"
                f" {s['proxy_cpu_us_per_msg']:>12.1f}  {s['limited_by_proxied']}"
                + (f"  PROBLEMS: {'; '.join(s['problems'])}" if s["problems"] else "")
            )
        if "rate" in store:
            r = store["rate"]
            lines.append(
                f"steady {r['rate']:,.0f} msg/s (marketing, {r['count']:,} msgs):"
                f" p99 direct {r['direct_p99_ms']:.2f} ms,"
                f" proxied {r['proxied_p99_ms']:.2f} ms, added {r['added_p99_ms']:.2f} ms"
                f" (p50 {r['direct_p50_ms']:.2f} -> {r['proxied_p50_ms']:.2f} ms); proxy CPU"
                f" {r['proxy_utilization'] * 100:.0f}% of a core"
            )
        vis = store["optout_visibility"]
        lines.append(
            f"start-up: ready after {store['ready_startup_seconds']} s"
            f" (spawn to ready {store['spawn_to_ready_s']} s);"
            f" RSS ready {store['rss_ready_mb']} MB, after runs {store['rss_after_mb']} MB,"
            f" peak {store['rss_peak_mb']} MB; new opt-out refused at once: {vis.get('refused_at_once')}"
            f" ({vis.get('stop_to_refusal_ms')} ms from STOP to refusal)"
        )
    if results.get("store_cost"):
        lines += ["", "Store cost (proxied throughput and proxy CPU against the empty store):"]
        for row in results["store_cost"]:
            lines.append(
                f"  {row['size']:,} rows, {row['mix']}: {row['proxied_throughput']:,.0f} vs"
                f" {row['baseline_throughput']:,.0f} msg/s = {row['throughput_cost'] * 100:+.1f}% cost;"
                f" CPU {row['proxy_cpu_us_per_msg']:.1f} vs {row['baseline_cpu_us_per_msg']:.1f} us/msg"
                f" ({row['cpu_cost'] * 100:+.1f}%)"
            )
    lines += ["", "Targets (issue #5):"]
    for t in results["targets"]:
        lines.append(f"  [{t['verdict']:<4}] {t['what']}: {t['measured']}")
    return "\n".join(lines)


def evaluate(results: dict[str, Any]) -> list[dict[str, Any]]:
    targets: list[dict[str, Any]] = []

    def add(what: str, measured: str, ok: bool | None) -> None:
        verdict = "n/a" if ok is None else ("PASS" if ok else "MISS")
        targets.append({"what": what, "measured": measured, "verdict": verdict})

    stores = results["stores"]
    base = next((s for s in stores if s["size"] == 0), stores[0] if stores else None)
    if base is not None and "marketing" in base["mixes"]:
        m = base["mixes"]["marketing"]
        add(
            f"proxy CPU <= {TARGETS['cpu_us_per_msg']:.0f} us/msg with footer + check (marketing)",
            f"{m['proxy_cpu_us_per_msg']:.1f} us/msg",
            m["proxy_cpu_us_per_msg"] <= TARGETS["cpu_us_per_msg"],
        )
        add(
            f"proxied >= {TARGETS['ratio']}x direct at window {results['config']['window']} (marketing)",
            f"{m['ratio']:.2f}x, median of the {m['runs']} paired runs"
            f" ({', '.join(f'{r:.2f}' for r in m['ratios'])}; ratio of the medians"
            f" {m['ratio_of_medians']:.2f}x: {m['proxied_throughput']:,.0f} vs"
            f" {m['direct_throughput']:,.0f} msg/s)",
            m["ratio"] >= TARGETS["ratio"],
        )
    if base is not None and "rate" in base:
        r = base["rate"]
        add(
            f"p99 added <= {TARGETS['added_p99_ms']:.0f} ms at a steady {r['rate']:,.0f} msg/s",
            f"{r['added_p99_ms']:.2f} ms ({r['direct_p99_ms']:.2f} -> {r['proxied_p99_ms']:.2f} ms)",
            r["added_p99_ms"] <= TARGETS["added_p99_ms"],
        )
    for store in stores:
        if store["size"] < 1_000_000:
            continue
        label = f"{store['size']:,} store"
        cost = next((c for c in results.get("store_cost", []) if c["size"] == store["size"]), None)
        if cost is not None:
            add(
                f"{label}: throughput cost <= {TARGETS['store_cost'] * 100:.0f}% vs empty ({cost['mix']})",
                f"{cost['throughput_cost'] * 100:+.1f}% (CPU {cost['cpu_cost'] * 100:+.1f}%)",
                cost["throughput_cost"] <= TARGETS["store_cost"],
            )
        add(
            f"{label}: RSS <= {TARGETS['rss_mb']:.0f} MB",
            f"{store['rss_ready_mb']} MB ready, {store['rss_after_mb']} MB after the runs,"
            f" peak {store['rss_peak_mb']} MB",
            max(store["rss_after_mb"], store["rss_peak_mb"]) <= TARGETS["rss_mb"],
        )
        add(
            f"{label}: serving in <= {TARGETS['ready_s']:.0f} s",
            f"{store['ready_startup_seconds']} s (ready log), {store['spawn_to_ready_s']} s from spawn",
            store["spawn_to_ready_s"] <= TARGETS["ready_s"],
        )
        vis = store["optout_visibility"]
        add(
            f"{label}: new opt-out visible to the check at once",
            f"refused={vis.get('refused_at_once')}, {vis.get('stop_to_refusal_ms')} ms STOP -> refusal",
            bool(vis.get("refused_at_once")),
        )
    if not any(s["size"] >= 1_000_000 for s in stores):
        add("10,000,000-row store targets", "not run (use --store-size 0,10M)", None)
    return targets


def store_costs(stores: list[dict[str, Any]]) -> list[dict[str, Any]]:
    base = next((s for s in stores if s["size"] == 0), None)
    if base is None:
        return []
    rows = []
    for store in stores:
        if store is base:
            continue
        for mix, s in store["mixes"].items():
            b = base["mixes"].get(mix)
            if b is None:
                continue
            rows.append(
                {
                    "size": store["size"],
                    "mix": mix,
                    "proxied_throughput": s["proxied_throughput"],
                    "baseline_throughput": b["proxied_throughput"],
                    "throughput_cost": round(1 - s["proxied_throughput"] / b["proxied_throughput"], 4),
                    "proxy_cpu_us_per_msg": s["proxy_cpu_us_per_msg"],
                    "baseline_cpu_us_per_msg": b["proxy_cpu_us_per_msg"],
                    "cpu_cost": round(s["proxy_cpu_us_per_msg"] / b["proxy_cpu_us_per_msg"] - 1, 4),
                }
            )
    return rows


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench",
        description=__doc__.split("\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--count", type=int, default=None, help="submit_sm per run (default 50,000)")
    parser.add_argument("--warmup", type=int, default=None, help="unmeasured submits first (default 2,000)")
    parser.add_argument("--window", type=int, default=64, help="submits in flight per bind (default 64)")
    parser.add_argument("--binds", type=int, default=1, help="transceiver binds per run (default 1)")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions, medians reported (default 5)")
    parser.add_argument(
        "--mix", default=",".join(DEFAULT_MIXES), help=f"comma list of {', '.join(MIXES)} (default: all)"
    )
    parser.add_argument(
        "--store-size", default="0", help="comma list of store sizes, e.g. 0,10M (default 0 = empty)"
    )
    parser.add_argument(
        "--number-pool",
        type=int,
        default=0,
        help="destinations cycle through this many numbers (default 0: every message a new number,"
        " as in a campaign; a small pool lets the proxy's number cache hit)",
    )
    parser.add_argument("--rate", type=float, default=5000, help="steady-rate latency test, msg/s (0: off)")
    parser.add_argument("--rate-duration", type=float, default=None, help="seconds per steady-rate run (6)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 10,000 msgs, 1 repetition, short")
    parser.add_argument("--output", default="bench-results.json", help="JSON results file")
    parser.add_argument("--profile", default="", help="directory: also profile one extra proxied run per mix")
    parser.add_argument("--profile-rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--store-cache", default="/tmp/stopgate-bench", help="where built stores are kept")
    parser.add_argument(
        "--proxy-log-level",
        default="info",
        choices=["info", "warning"],
        help="stopgate log level (default info, for its 'ready' line; it logs nothing per message;"
        " at warning, start-up is timed to the first accepted connection)",
    )
    parser.add_argument("--ready-timeout", type=float, default=180.0)
    parser.add_argument("--keep", action="store_true", help="keep the work directory (configs, logs, stores)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    quick = args.quick
    args.count = args.count or (10_000 if quick else 50_000)
    args.warmup = args.warmup if args.warmup is not None else (1_000 if quick else 2_000)
    args.repeat = args.repeat or (1 if quick else 5)
    args.rate_duration = args.rate_duration or (3.0 if quick else 6.0)
    mixes = [m.strip() for m in args.mix.split(",") if m.strip()]
    unknown = [m for m in mixes if m not in MIXES]
    if unknown:
        print(f"unknown mix {unknown}; known: {', '.join(MIXES)}", file=sys.stderr)
        return 2
    sizes = [parse_size(s) for s in args.store_size.split(",")]
    started = time.perf_counter()
    workdir = Path(tempfile.mkdtemp(prefix="stopgate-bench-"))
    sim_port, control_port = free_port(), free_port()
    sim = Service.start(
        "smsc_sim",
        [
            sys.executable, "-m", "tools.smsc_sim", "--host", "127.0.0.1", "--port", str(sim_port),
            "--control-port", str(control_port), "--log-level", "warning", "--keep", "1000",
        ],
        workdir / "smsc_sim.log",
    )  # fmt: skip
    ctx = Context(args, sim, sim_port, control_port, workdir)
    results: dict[str, Any] = {
        "config": {
            "count": args.count,
            "warmup": args.warmup,
            "window": args.window,
            "binds": args.binds,
            "repeat": args.repeat,
            "mixes": mixes,
            "store_sizes": sizes,
            "rate": args.rate,
            "rate_duration_s": args.rate_duration,
            "quick": quick,
            "machine_cpus": os.cpu_count(),
            "numbers": (
                f"destinations cycle through {args.number_pool:,} numbers"
                if args.number_pool
                else "every message to a new destination number (as in a real campaign)"
            ),
        },
        "environment": environment(),
        "stores": [],
    }
    code = 0
    try:
        wait_port(sim_port, 15, sim.alive)
        wait_port(control_port, 15, sim.alive)
        for size in sizes:
            results["stores"].append(run_store(ctx, size, mixes))
    except (BenchError, TimeoutError, OSError) as exc:
        print(f"\nbenchmark failed: {exc}", file=sys.stderr)
        code = 1
    finally:
        if ctx.proxy is not None:
            ctx.proxy.stop()
        sim.stop()
    results["store_cost"] = store_costs(results["stores"])
    results["targets"] = evaluate(results)
    results["elapsed_s"] = round(time.perf_counter() - started, 1)
    if results["stores"]:
        print(render(results))
    print(f"\n{results['elapsed_s']:.0f} s in all; results in {args.output}")
    Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
    if args.keep or code:
        print(f"work directory kept: {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
