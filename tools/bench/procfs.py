"""Linux ``/proc`` accounting of a process (CPU time, its main thread's, system calls, context
switches, RSS) and of the whole machine."""

from __future__ import annotations

import contextlib
import os
from typing import Final

CLK_TCK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads included (Linux /proc; 0.0 elsewhere)."""
    return cpu_seconds_of(f"/proc/{pid}/stat")


def cpu_seconds_of(stat_path: str) -> float:
    """utime + stime from a /proc ``stat`` file (a process's or one thread's); 0.0 if unreadable."""
    try:
        with open(stat_path) as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main_thread_cpu_seconds(pid: int) -> float:
    """utime + stime of a process's main thread alone (the event loop; other threads are the
    store's writer and workers); 0.0 where /proc is unavailable."""
    return cpu_seconds_of(f"/proc/{pid}/task/{pid}/stat")


def io_counts(pid: int) -> dict[str, int]:
    """Read and write system calls (``/proc/<pid>/io`` counts read() and write(), not recv(), send()
    or epoll_wait()) and the main thread's context switches, voluntary (it waited) and not (it was
    preempted); empty where /proc is unavailable."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("syscr", "syscw"):
                    out[key] = int(value)
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "voluntary_ctxt_switches":
                    out["waits"] = int(value)
                elif key == "nonvoluntary_ctxt_switches":
                    out["preempted"] = int(value)
    return out


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process in KiB (empty where /proc is unavailable)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def machine_cpu() -> tuple[float, float, float]:
    """(busy, total, steal) CPU seconds of the whole machine since boot, all cores (Linux
    /proc/stat). Steal is time the hypervisor gave this virtual machine's vCPUs to others: the
    machine running slower than it looks."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    steal = fields[7] if len(fields) > 7 else 0
    return (total - idle) / CLK_TCK, total / CLK_TCK, steal / CLK_TCK
