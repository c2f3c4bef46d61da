"""Running a real `stopgate run` process for tests."""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
from anyio.abc import Process


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_config(
    directory: Path, smsc_port: int, *, extra: str = "", admin_port: int | None = None
) -> tuple[Path, int]:
    """A config file for the bundled example accounts against a simulator on ``smsc_port``."""
    port = free_port()
    admin = (
        f'[admin]\nenabled = true\nlisten = "127.0.0.1:{admin_port}"\ntokens = ["test-token"]\n'
        if admin_port is not None
        else "[admin]\nenabled = false\n"
    )
    text = f"""
[listen]
host = "127.0.0.1"
port = {port}
[storage]
path = "stopgate.db"
[numbers]
default_country = "GB"
[logging]
format = "json"
level = "info"
[session]
shutdown_grace = 2.0
response_timeout = 2.0
{admin}
[[upstream]]
name = "sim"
host = "127.0.0.1"
port = {smsc_port}
system_id = "proxy"
password = "proxypw"

[[account]]
system_id = "acme"
password = "acmepw"
upstream = "sim"
scope = "acme"
footer = "Reply STOP to opt out"
confirmation = "You are unsubscribed."
{extra}
"""
    path = directory / "stopgate.toml"
    path.write_text(text)
    return path, port


async def wait_port(port: int, timeout: float = 15.0) -> None:
    with anyio.fail_after(timeout):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


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
