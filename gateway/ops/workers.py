"""``stopgate run --workers N``: N worker processes sharing the SMPP port, under one supervisor.

Each worker is a whole ``stopgate run`` (its own event loop on its own core) listening on
``listen.port`` with SO_REUSEPORT, so the kernel spreads ESME connections over them. They share the
store (the SQLite file in WAL mode, or the PostgreSQL database) and learn each other's opt-outs through
its change feed, as separate hosts would. Worker 0 alone serves the admin API; its ``/metrics`` holds
every worker's figures, labelled ``worker`` (:mod:`gateway.ops.worker_metrics`).

The supervisor does nothing else: it restarts a worker that died (back-off doubling from
``MIN_BACKOFF`` to ``MAX_BACKOFF``, reset once a worker has lived ``STABLE_AFTER`` seconds), passes
SIGHUP on to every worker (each re-reads the config), and on SIGTERM / SIGINT passes that on and
waits for all of them to drain.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import anyio.abc
import structlog

from gateway.ops.worker_metrics import WORKER_DIR_ENV

#: The environment variable that makes a process a worker (its index), not a supervisor.
WORKER_ENV = "STOPGATE_WORKER"
MIN_BACKOFF = 0.5
MAX_BACKOFF = 30.0
STABLE_AFTER = 10.0

log = structlog.get_logger("stopgate.workers")


def worker_index() -> int | None:
    """This process's worker index, or None when it is not a supervised worker."""
    value = os.environ.get(WORKER_ENV)
    return int(value) if value is not None and value.isdigit() else None


class Supervisor:
    def __init__(self, config_path: Path, workers: int, directory: Path) -> None:
        self.config_path = config_path
        self.workers = workers
        #: This run's own directory (the workers' metrics sockets).
        self.directory = directory
        self.processes: dict[int, anyio.abc.Process] = {}
        self.restarts = 0
        self._stopping = False

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
                async with anyio.create_task_group() as workers:
                    for index in range(self.workers):
                        workers.start_soon(self._keep, index)
                    tg.start_soon(self._relay, signals, workers.cancel_scope)
                tg.cancel_scope.cancel()
        log.info("all workers stopped")

    async def _relay(self, signals: AsyncIterator[signal.Signals], workers: anyio.CancelScope) -> None:
        async for signum in signals:
            name = signal.Signals(signum).name
            if signum == signal.SIGHUP:
                log.info("passing SIGHUP to the workers")
                self._signal_all(signal.SIGHUP)
                continue
            log.info("signal received, draining the workers", signal=name)
            self._stopping = True
            self._signal_all(signal.SIGTERM)

    def _signal_all(self, signum: signal.Signals) -> None:
        for process in list(self.processes.values()):
            if process.returncode is None:
                process.send_signal(signum)

    async def _keep(self, index: int) -> None:
        """Run worker ``index`` until the supervisor stops, restarting it whenever it dies."""
        backoff = MIN_BACKOFF
        while not self._stopping:
            started = anyio.current_time()
            command = [sys.executable, "-m", "gateway", "run", "--config", str(self.config_path)]
            process = await anyio.open_process(
                [*command, "--workers", str(self.workers)],
                stdin=None,
                stdout=None,
                stderr=None,
                env={**os.environ, WORKER_ENV: str(index), WORKER_DIR_ENV: str(self.directory)},
            )
            self.processes[index] = process
            log.info("worker started", worker=index, pid=process.pid)
            try:
                status = await process.wait()
            finally:
                if process.returncode is None:
                    with anyio.CancelScope(shield=True):
                        process.terminate()
                        await process.wait()
            if self._stopping:
                log.info("worker stopped", worker=index, pid=process.pid, status=status)
                return
            if anyio.current_time() - started > STABLE_AFTER:
                backoff = MIN_BACKOFF
            log.error("worker died; restarting", worker=index, pid=process.pid, status=status, after=backoff)
            self.restarts += 1
            await anyio.sleep(backoff)
            backoff = min(backoff * 2, MAX_BACKOFF)


def supervise(config_path: Path, workers: int) -> None:
    """Run ``workers`` worker processes until SIGTERM (blocking)."""
    directory = Path(tempfile.mkdtemp(prefix="stopgate-workers-"))  # fresh: no stale sockets
    log.info("supervisor started", workers=workers, pid=os.getpid())
    try:
        anyio.run(Supervisor(config_path, workers, directory).run, backend="asyncio")
    finally:
        shutil.rmtree(directory, ignore_errors=True)
