"""An in-process stack for end-to-end tests: the simulated SMSC and a Stopgate App wired together.

The ESME side is always a real client (smpplib in a thread, see tests/esme.py) over TCP.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from gateway.app import App
from gateway.config import Config, parse_config
from tools.smsc_sim import SimulatedSmsc

BASE: dict[str, Any] = {
    "listen": {"host": "127.0.0.1", "port": 0},
    "storage": {"path": "stopgate.db"},
    "numbers": {"default_country": "GB"},
    "logging": {"format": "json", "level": "warning"},
    "session": {
        "response_timeout": 2.0,
        "enquire_link_interval": 30.0,
        "bind_timeout": 5.0,
        "shutdown_grace": 2.0,
    },
    "admin": {"enabled": False},
    "upstream": [
        {"name": "sim", "host": "127.0.0.1", "port": 0, "system_id": "proxy", "password": "proxypw"}
    ],
    "account": [
        {
            "system_id": "acme",
            "password": "acmepw",
            "upstream": "sim",
            "scope": "acme",
            "footer": "Reply STOP to opt out",
            "confirmation": "You are unsubscribed. Reply START to resubscribe.",
            "resubscribe_confirmation": "You are subscribed again.",
            "help": "Acme alerts. Reply STOP to end.",
        },
        {
            "system_id": "acmeotp",
            "password": "otppw",
            "upstream": "sim",
            "scope": "acme",
            "traffic": "transactional",
        },
        {"system_id": "other", "password": "otherpw", "upstream": "sim"},
    ],
}


def merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def make_config(directory: Path, smsc_port: int, override: dict[str, Any] | None = None) -> Config:
    data = merge(BASE, override or {})
    for upstream in data["upstream"]:
        if upstream.get("port") == 0:
            upstream["port"] = smsc_port
    return parse_config(data, directory)


@dataclass
class Stack:
    smsc: SimulatedSmsc
    app: App
    directory: Path

    @property
    def port(self) -> int:
        assert self.app.proxy is not None
        return self.app.proxy.port


@asynccontextmanager
async def running_stack(
    directory: Path, override: dict[str, Any] | None = None, *, smsc: SimulatedSmsc | None = None
) -> AsyncIterator[Stack]:
    smsc = smsc or SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        app = App(make_config(directory, smsc.port, override))
        await tg.start(app.run)
        try:
            yield Stack(smsc, app, directory)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await app.stop()
                await smsc.stop()
            tg.cancel_scope.cancel()
