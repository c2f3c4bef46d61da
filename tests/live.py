"""A real `stopgate run` process against the simulated SMSC (or any upstream port), for reliability tests.

    async with live_stack(tmp_path, {"session": {"window": 4}}, admin=True) as live:
        async with connect_peer(live.port) as esme:          # tools/smpp_peer.py: raw SMPP, our codec
            await esme.bind("acme", "acmepw")
        live.process.kill(); await live.process.wait()
        async with live.restart():                           # same config, same store file
            ...

The config is tests/stack.py's BASE (accounts acme/acmeotp/other, upstream "sim") with ``override``
merged in, written as TOML; the process logs (JSON, level info) to ``live.log_path``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
from anyio.abc import Process

from tests.config_file import config_data
from tests.stack import merge
from tools.config_toml import to_toml
from tools.ports import free_port
from tools.smsc_sim import SimulatedSmsc
from tools.stopgate_process import stopgate_process

ADMIN_TOKEN = "reliability-token"


@dataclass
class Live:
    smsc: SimulatedSmsc
    config_path: Path
    port: int
    admin_port: int | None
    process: Process
    directory: Path
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.directory / "stopgate.log"

    @property
    def db_path(self) -> Path:
        return self.directory / "stopgate.db"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def admin(
        self, path: str, *, token: str | None = ADMIN_TOKEN, method: str = "GET"
    ) -> httpx.Response:
        assert self.admin_port is not None, "start the stack with admin=True"
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.admin_port}", timeout=10) as client:
            return await client.request(method, path, headers=headers)

    @asynccontextmanager
    async def restart(self) -> AsyncIterator[Live]:
        """Start the process again on the same config and store (after it was killed or stopped)."""
        async with stopgate_process(self.config_path, self.port, admin_port=self.admin_port) as process:
            self.process = process
            yield self


def live_config(
    smsc_port: int, override: dict[str, Any] | None = None, *, admin: bool = False
) -> tuple[dict[str, Any], int, int | None]:
    port = free_port()
    admin_port = free_port() if admin else None
    base: dict[str, Any] = {"listen": {"port": port}, "logging": {"level": "info"}}
    if admin_port is not None:
        base["admin"] = {"enabled": True, "listen": f"127.0.0.1:{admin_port}", "tokens": [ADMIN_TOKEN]}
    data = config_data(smsc_port, merge(base, override or {}))
    return data, port, admin_port


@asynccontextmanager
async def live_stack(
    directory: Path,
    override: dict[str, Any] | None = None,
    *,
    admin: bool = False,
    smsc: SimulatedSmsc | None = None,
    upstream_port: int | None = None,
) -> AsyncIterator[Live]:
    """The simulated SMSC in this process and `stopgate run` as a subprocess pointed at it (or at
    ``upstream_port``, e.g. a fake SMSC from tools/smpp_peer.py)."""
    smsc = smsc or SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        data, port, admin_port = live_config(upstream_port or smsc.port, override, admin=admin)
        path = directory / "stopgate.toml"
        path.write_text(to_toml(data), encoding="utf-8")
        try:
            async with stopgate_process(path, port, admin_port=admin_port) as process:
                yield Live(smsc, path, port, admin_port, process, directory, data)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(5):
                await smsc.stop()
            tg.cancel_scope.cancel()


def account(**changes: Any) -> dict[str, Any]:
    """An override replacing the accounts: ``acme`` changed by ``changes``, the others as in BASE."""
    from tests.stack import BASE

    accounts = [dict(a) for a in BASE["account"]]
    accounts[0].update(changes)
    return {"account": accounts}


def upstream(**changes: Any) -> dict[str, Any]:
    """An override replacing the upstream list: ``sim`` changed by ``changes``."""
    from tests.stack import BASE

    return {"upstream": [{**BASE["upstream"][0], **changes}]}
