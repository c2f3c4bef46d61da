"""Per-process throughput on PostgreSQL vs SQLite, and 1 vs 2 workers, in one run (issue 15).

    python -m tools.bench_workers [--count 30000] [--repeat 3] [--url postgresql://postgres@127.0.0.1/postgres]

One simulated SMSC (``python -m tools.smsc_sim``) for the whole run. For each setup (SQLite, 1 process;
PostgreSQL, 1 process; SQLite, ``--workers 2``; PostgreSQL, ``--workers 2``) a real ``stopgate run`` is
started on a fresh store, and for each repetition the load generator (``python -m tools.loadgen``,
marketing mix, every message a new number, ``--binds`` binds so that the kernel spreads them over the
workers) runs once straight into the simulator ("direct") and once through Stopgate, back to back.
Printed per setup: medians of proxied msg/s, its ratio to the direct run beside it, and the CPU time of
every Stopgate process (supervisor and workers) per message. The load generator, the simulator,
PostgreSQL and the Stopgate processes all share this machine's cores: with 2 cores, a second worker
competes with them rather than getting a core of its own.
"""

from __future__ import annotations

import argparse
import json
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tools.bench.mixes import FOOTER, MARKETING_ACCOUNT, SCOPE
from tools.bench.procfs import cpu_seconds
from tools.bench.services import BenchError, Service
from tools.config_toml import simulator_upstream, to_toml
from tools.ports import free_port, wait_port_blocking

SETUPS = (("sqlite", 1), ("postgres", 1), ("sqlite", 2), ("postgres", 2))


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        total += cpu_seconds(pid)  # 0.0 for a process gone
    return total


def _config(directory: Path, smsc_port: int, port: int, storage: dict[str, str], workers: int) -> Path:
    account, password = MARKETING_ACCOUNT
    text = to_toml(
        {
            "listen": {"host": "127.0.0.1", "port": port, "workers": workers},
            "storage": storage,
            "numbers": {"default_country": "GB"},
            "logging": {"format": "json", "level": "info"},
            "session": {"window": 64, "response_timeout": 10.0, "shutdown_grace": 2.0},
            "admin": {"enabled": False},
            "upstream": [simulator_upstream(smsc_port)],
            "account": [
                {
                    "system_id": account,
                    "password": password,
                    "traffic": "marketing",
                    "footer": FOOTER,
                    "upstream": "sim",
                    "scope": SCOPE,
                    "max_sessions": 64,
                }
            ],
        }
    )
    path = directory / "stopgate.toml"
    path.write_text(text)
    return path


def _loadgen(port: int, args: argparse.Namespace, base: int, watch: list[int]) -> tuple[float, float]:
    """(msg/s, CPU seconds of ``watch`` during the measured phase) of one load generator run."""
    argv = [
        sys.executable, "-m", "tools.loadgen", "--port", str(port), "--mix", "marketing",
        "--count", str(args.count), "--warmup", str(args.warmup), "--window", "64",
        "--binds", str(args.binds), "--number-base", str(base), "--wait-go", "--timeout", "60",
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        lines = iter(proc.stdout.readline, "")
        for line in lines:
            if line.startswith("READY"):
                break
            if line.startswith("RESULT"):
                raise BenchError(f"load generator failed: {line[7:].strip()}")
        before = _cpu(watch)
        proc.stdin.write("go\n")
        proc.stdin.flush()
        cpu = 0.0
        for line in lines:
            if line.startswith("DONE"):
                cpu = _cpu(watch) - before
            if line.startswith("RESULT"):
                result = json.loads(line[7:])
                if "error" in result:
                    raise BenchError(f"load generator failed: {result['error']}")
                if result["errors"] or result["refused_opted_out"]:
                    # (a refused message costs less than a relayed one: such a run would flatter)
                    raise BenchError(f"{result['errors']} errors, {result['refused_opted_out']} refused")
                return float(result["throughput"]), cpu
        raise BenchError(f"load generator exited (code {proc.wait()}) without a result")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _start(config: Path, workers: int, log: Path, port: int) -> Service:
    argv = [sys.executable, "-m", "gateway", "run", "--config", str(config)]
    service = Service.start(f"stopgate x{workers}", argv, log)
    deadline = time.monotonic() + 120
    while log_count(log, '"ready"') < workers:
        if time.monotonic() > deadline or not service.alive():
            service.stop()
            raise BenchError(f"stopgate did not start; see {log}")
        time.sleep(0.2)
    wait_port_blocking(port, 10)
    return service


def log_count(path: Path, needle: str) -> int:
    try:
        return path.read_text(errors="replace").count(needle)
    except OSError:
        return 0


def _setup(
    args: argparse.Namespace, workdir: Path, sim_port: int, backend: str, workers: int, url: str
) -> dict[str, Any]:
    home = workdir / f"{backend}-{workers}"
    home.mkdir()
    storage = {"url": url} if backend == "postgres" else {"path": str(home / "stopgate.db")}
    port = free_port()
    config = _config(home, sim_port, port, storage, workers)
    service = _start(config, workers, home / "stopgate.log", port)
    runs: list[dict[str, float]] = []
    try:
        time.sleep(1.0)  # the workers' first feed syncs and upstream binds
        for rep in range(args.repeat):
            base = 10_000_000 * (rep + 1) + secrets.randbelow(1_000_000)
            direct, _ = _loadgen(sim_port, args, base, [])
            watch = [service.pid, *_children(service.pid)]
            proxied, cpu = _loadgen(port, args, base + 5_000_000, watch)
            runs.append({"direct": direct, "proxied": proxied, "cpu_us": cpu / args.count * 1e6})
    finally:
        service.stop()
    return {
        "backend": backend,
        "workers": workers,
        "proxied_msg_s": statistics.median(r["proxied"] for r in runs),
        "direct_msg_s": statistics.median(r["direct"] for r in runs),
        "ratio": statistics.median(r["proxied"] / r["direct"] for r in runs),
        "cpu_us_per_msg": statistics.median(r["cpu_us"] for r in runs),
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--count", type=int, default=30_000, help="measured submits per run")
    parser.add_argument("--warmup", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=3, help="repetitions per setup (medians)")
    parser.add_argument("--binds", type=int, default=8, help="ESME binds, spread over the workers")
    parser.add_argument(
        "--url",
        default="postgresql://postgres@127.0.0.1:5432/postgres",
        help="a PostgreSQL server whose user may CREATE DATABASE",
    )
    parser.add_argument("--json", default="", help="also write the results here")
    args = parser.parse_args(argv)

    workdir = Path(tempfile.mkdtemp(prefix="bench_workers_"))
    sim_port = free_port()
    sim = Service.start(
        "smsc_sim",
        [sys.executable, "-m", "tools.smsc_sim", "--host", "127.0.0.1", "--port", str(sim_port),
         "--control-port", str(free_port()), "--log-level", "warning", "--keep", "1000"],
        workdir / "smsc_sim.log",
    )  # fmt: skip
    results = []
    try:
        wait_port_blocking(sim_port, 30)
        for backend, workers in SETUPS:
            name = f"stopgate_workers_{secrets.token_hex(4)}"
            url = urlunsplit(urlsplit(args.url)._replace(path=f"/{name}"))
            if backend == "postgres":
                with psycopg.connect(args.url, autocommit=True) as admin:
                    admin.execute(f'CREATE DATABASE "{name}"'.encode())
            try:
                results.append(_setup(args, workdir, sim_port, backend, workers, url))
            finally:
                if backend == "postgres":
                    with psycopg.connect(args.url, autocommit=True) as admin:
                        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())
            print(json.dumps(results[-1]), flush=True)
    finally:
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    print(f"{'setup':<16} {'proxied msg/s':>14} {'vs direct':>10} {'CPU us/msg':>11}")
    for r in results:
        setup = f"{r['backend']} x{r['workers']}"
        print(f"{setup:<16} {r['proxied_msg_s']:>14.0f} {r['ratio']:>10.2f} {r['cpu_us_per_msg']:>11.1f}")
    by = {(r["backend"], r["workers"]): r["proxied_msg_s"] for r in results}
    for backend in ("sqlite", "postgres"):
        if (backend, 1) in by and (backend, 2) in by:
            print(f"{backend}: 2 workers / 1 = {by[backend, 2] / by[backend, 1]:.2f}")
    if ("sqlite", 1) in by and ("postgres", 1) in by:
        print(f"1 process: postgres / sqlite = {by['postgres', 1] / by['sqlite', 1]:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
