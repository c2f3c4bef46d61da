"""The benchmark's child processes (simulator, proxy): started with their output logged, and watched
for their "ready" line."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


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
