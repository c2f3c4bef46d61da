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
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tools.bench.environment import environment
from tools.bench.mixes import DEFAULT_MIXES, MIXES
from tools.bench.report import evaluate, render
from tools.bench.runs import Context
from tools.bench.services import BenchError, Service
from tools.bench.store_run import parse_size, run_store
from tools.bench.summary import store_costs
from tools.ports import free_port, wait_port_blocking


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
    parser.add_argument(
        "--pooled",
        type=int,
        default=0,
        help="pooled mode: Stopgate holds this many binds to the SMSC (a default [[route]]); 0: per-session",
    )
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
        wait_port_blocking(sim_port, 15, sim.alive)
        wait_port_blocking(control_port, 15, sim.alive)
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
