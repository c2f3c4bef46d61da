"""Config *files* for tests that need one (CLI subprocesses, SIGHUP reload, real processes): the test
config written as TOML, and a variant of :func:`tests.stack.running_stack` whose App is loaded from a
file it can re-read."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from gateway.app import App
from gateway.config import load_config
from tests.stack import BASE, Stack, merge
from tools.config_toml import to_toml
from tools.smsc_sim import SimulatedSmsc


def config_data(smsc_port: int, override: dict[str, Any] | None = None) -> dict[str, Any]:
    data = merge(BASE, override or {})
    for upstream in data["upstream"]:
        if upstream.get("port") == 0:
            upstream["port"] = smsc_port
    return data


def write_config(path: Path, smsc_port: int, override: dict[str, Any] | None = None) -> Path:
    path.write_text(to_toml(config_data(smsc_port, override)), encoding="utf-8")
    return path


@asynccontextmanager
async def running_file_stack(
    directory: Path, override: dict[str, Any] | None = None
) -> AsyncIterator[tuple[Stack, Path]]:
    """Simulated SMSC + App loaded from ``directory/stopgate.toml`` (so ``app.reload()`` re-reads it)."""
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        path = write_config(directory / "stopgate.toml", smsc.port, override)
        app = App(load_config(path), path)
        await tg.start(app.run)
        try:
            yield Stack(smsc, app, directory), path
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await app.stop()
                await smsc.stop()
            tg.cancel_scope.cancel()
