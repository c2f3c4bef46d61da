"""Config *files* for tests that need one (CLI subprocesses, SIGHUP reload): a tiny TOML writer and a
variant of :func:`tests.stack.running_stack` whose App is loaded from a file it can re-read."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio

from gateway.app import App
from gateway.config import load_config
from tests.stack import BASE, Stack, merge
from tools.smsc_sim import SimulatedSmsc


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a valid TOML basic string
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def to_toml(data: dict[str, Any]) -> str:
    """TOML for the config shapes Stopgate uses: scalars, tables, arrays of tables."""
    lines: list[str] = []
    tables: list[tuple[str, dict[str, Any]]] = []
    arrays: list[tuple[str, list[dict[str, Any]]]] = []
    for key, value in data.items():
        if isinstance(value, dict):
            tables.append((key, value))
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            arrays.append((key, value))
        else:
            lines.append(f"{key} = {_value(value)}")
    for key, table in tables:
        lines.append(f"\n[{key}]")
        lines.extend(f"{k} = {_value(v)}" for k, v in table.items())
    for key, items in arrays:
        for item in items:
            lines.append(f"\n[[{key}]]")
            lines.extend(f"{k} = {_value(v)}" for k, v in item.items())
    return "\n".join(lines) + "\n"


def config_data(smsc_port: int, override: dict[str, Any] | None = None) -> dict[str, Any]:
    data = merge(BASE, override or {})
    for upstream in data["upstream"]:
        if upstream.get("port") == 0:
            upstream["port"] = smsc_port
    return data


def write_config(path: Path, smsc_port: int, override: dict[str, Any] | None = None) -> Path:
    path.write_text(to_toml(config_data(smsc_port, override)), encoding="utf-8")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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
