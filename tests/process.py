"""Running a real `stopgate run` process for tests."""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process

from tools.ports import free_port, wait_port

__all__ = ["free_port", "stopgate_process", "wait_port", "write_config"]


def write_config(directory: Path, smsc_port: int) -> tuple[Path, int]:
    """``directory/stopgate.toml``: the test config (tests/stack.py's BASE) against a simulator on
    ``smsc_port``, listening on a free port; returns (path, port)."""
    from tests.config_file import write_config as write_file  # it imports this module

    port = free_port()
    override = {"listen": {"port": port}, "logging": {"level": "info"}}
    return write_file(directory / "stopgate.toml", smsc_port, override), port


@asynccontextmanager
async def stopgate_process(config: Path, port: int, *args: str) -> AsyncIterator[Process]:
    env: dict[str, Any] = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log = open(config.parent / "stopgate.log", "ab")  # noqa: SIM115 - closed below
    process = await anyio.open_process(
        [sys.executable, "-m", "gateway", "run", "--config", str(config), *args],
        stdout=log,
        stderr=log,
        env=env,
    )
    try:
        await wait_port(port)
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        with anyio.CancelScope(shield=True):
            await process.wait()
        log.close()
