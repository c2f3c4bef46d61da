"""One store size: build or copy its store, start ``stopgate run`` on it and time its start-up, run
every mix direct and proxied, the steady-rate test and the opt-out check."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from tools.bench.mixes import MIXES
from tools.bench.optout_check import optout_visibility
from tools.bench.procfs import cpu_seconds, memory_kib
from tools.bench.proxy_config import write_config
from tools.bench.pyspy import summarize_collapsed
from tools.bench.runs import Context, io_line, run_loadgen
from tools.bench.services import Service, log_lines
from tools.bench.stores import cached_store, copy_store, store_rows
from tools.bench.summary import summarize_pairs
from tools.ports import free_port, wait_port_blocking


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
        pooled=getattr(args, "pooled", 0),
    )
    log_path = ctx.workdir / f"stopgate-{size}.log"
    proxy = Service.start(
        "stopgate", [sys.executable, "-m", "gateway", "run", "--config", str(config)], log_path
    )
    ctx.proxy = proxy
    if args.proxy_log_level == "info":
        ready = proxy.wait_ready(args.ready_timeout)
        wait_port_blocking(ctx.proxy_port, 10, proxy.alive)
    else:  # no "ready" line at warning level: serving means accepting connections
        wait_port_blocking(ctx.proxy_port, args.ready_timeout, proxy.alive)
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
                f"  {io_line(proxied)}"
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
