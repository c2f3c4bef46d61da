"""What machine and code a run measured: Python, platform, git commit, a digest of ``gateway/``,
and how much slower the same work runs right after the process slept (the wake-up penalty)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from pathlib import Path
from typing import Any

from tools.bench.mixes import FOOTER, MIXES, template_frame
from tools.bench.stats import median


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
        root = Path(__file__).resolve().parents[2]  # the checkout: tools/bench/environment.py
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


def wakeup_penalty(samples: int = 300) -> dict[str, float]:
    """How much slower the same Python work runs right after the process slept, on this machine.

    Decodes one submit_sm and appends the footer (about the policy's work for one message) back to
    back, then once after each sleep of 0.2, 1 and 5 ms; returns median microseconds per call. On a
    virtual machine whose idle vCPU loses its caches the gap is large, and a proxy at a steady
    moderate rate pays it on every message (so do the simulator and the load generator).
    """
    from gateway.policy.messages import footer_parts
    from gateway.smpp.codec import decode

    frame, _ = template_frame(MIXES["marketing"])

    def work() -> None:
        footer_parts(decode(frame), FOOTER, use_payload=False, reference=1)  # type: ignore[arg-type]

    for _ in range(2000):
        work()
    started = time.perf_counter()
    for _ in range(samples * 10):
        work()
    out = {"back_to_back_us": round((time.perf_counter() - started) / (samples * 10) * 1e6, 1)}
    for gap in (0.0002, 0.001, 0.005):
        taken = []
        for _ in range(samples):
            time.sleep(gap)
            t0 = time.perf_counter()
            work()
            taken.append(time.perf_counter() - t0)
        out[f"after_{gap * 1e3:g}ms_sleep_us"] = round(median(taken) * 1e6, 1)
    return out


def tree_digest(root: Path) -> str:
    """A short hash of every .py file under ``root`` (which gateway code a run measured)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
