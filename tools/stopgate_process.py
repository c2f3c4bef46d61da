"""A real ``stopgate run`` as a child process: the one way the reliability tools and the tests start
Stopgate as its own process and wait until it serves.

    async with stopgate_process(config_path, port, admin_port=admin_port) as process:
        ...  # connect to 127.0.0.1:port; process.kill(), process.send_signal(...)
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
from anyio.abc import Process

from tools.ports import wait_port

__all__ = ["stopgate_process"]


@asynccontextmanager
async def stopgate_process(
    config: Path,
    port: int,
    *,
    admin_port: int | None = None,
    args: Sequence[str] = (),
    term_grace: float = 0.0,
) -> AsyncIterator[Process]:
    """``python -m gateway run --config CONFIG [ARGS]``, yielded once it accepts connections on ``port``
    (and ``admin_port``, if given). Its output is appended to ``stopgate.log`` beside the config.

    At the end a process still running is sent SIGTERM and given ``term_grace`` seconds to stop
    (a graceful drain); 0 kills it at once. Either way it is killed if still running, and reaped."""
    log = open(config.parent / "stopgate.log", "ab")  # noqa: SIM115 - closed below
    try:
        process = await anyio.open_process(
            [sys.executable, "-m", "gateway", "run", "--config", str(config), *args],
            stdout=log,
            stderr=log,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        try:
            await wait_port(port)
            if admin_port is not None:
                await wait_port(admin_port)
            yield process
        finally:
            if term_grace > 0 and process.returncode is None:
                process.send_signal(signal.SIGTERM)
                with anyio.move_on_after(term_grace, shield=True):
                    await process.wait()
            if process.returncode is None:
                process.kill()
            with anyio.CancelScope(shield=True):
                await process.wait()
    finally:
        log.close()
