"""A pooled-mode stack for end-to-end tests: several simulated SMSCs, Stopgate with ``[[route]]``
tables holding its own binds to each, and smpplib ESMEs (tests/esme.py)."""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio import to_thread

from gateway.app import App
from gateway.config import parse_config
from gateway.proxy.pool_router import PoolRouter
from tests.esme import Esme
from tests.stack import BASE, merge
from tools.smsc_sim import SimulatedSmsc

NAMES = ("a", "b", "c")


def upstream(name: str, port: int, **extra: Any) -> dict[str, Any]:
    return {
        "name": name,
        "host": "127.0.0.1",
        "port": port,
        "system_id": "proxy",
        "password": "proxypw",
        "reconnect_backoff_initial": 0.05,
        "reconnect_backoff_max": 0.2,
        "bind_timeout": 2.0,
        **extra,
    }


@dataclass
class PoolStack:
    smscs: dict[str, SimulatedSmsc]
    app: App
    directory: Path
    tg: anyio.abc.TaskGroup
    #: The configuration as data (for a reload with changes).
    data: dict[str, Any]

    @property
    def port(self) -> int:
        assert self.app.proxy is not None
        return self.app.proxy.port

    @property
    def router(self) -> PoolRouter:
        assert self.app.proxy is not None and self.app.proxy.router is not None
        return self.app.proxy.router

    async def wait_bound(self, *names: str, timeout: float = 10.0) -> None:
        """Until every bind of these upstreams (all, if none named) is bound."""
        pools = [self.router.pools[n] for n in names or self.router.pools]
        with anyio.fail_after(timeout):
            while not all(b.state == "bound" for p in pools for b in p.binds):
                await anyio.sleep(0.02)

    def reload(self, **changes: Any) -> None:
        """What SIGHUP does, with the configuration data changed."""
        data = merge(self.data, changes)
        self.data = data
        config = parse_config(data, self.directory)
        assert self.app.proxy is not None and self.app.policy is not None
        self.app.proxy.reload(config)
        self.app.policy.reload(config)

    def upstream_port(self, name: str) -> int:
        return self.smscs[name].port

    async def restart(self, name: str) -> None:
        """Serve a stopped simulator again, on the same port."""
        await self.tg.start(self.smscs[name].serve)

    async def wait_down(self, name: str, timeout: float = 10.0) -> None:
        with anyio.fail_after(timeout):
            while self.router.pools[name].health != "down":
                await anyio.sleep(0.02)

    async def esme(self, system_id: str = "acme", password: str = "acmepw", mode: str = "trx") -> Esme:
        esme = Esme(self.port, system_id, password, timeout=10.0)
        await to_thread.run_sync(esme.bind, mode)
        return esme


@asynccontextmanager
async def pooled_stack(
    directory: Path,
    routes: list[dict[str, Any]],
    *,
    upstreams: dict[str, dict[str, Any]] | None = None,
    override: dict[str, Any] | None = None,
    names: tuple[str, ...] = NAMES,
) -> AsyncIterator[PoolStack]:
    """Simulators a, b and c; ``upstreams`` adds keys per upstream; accounts as tests/stack.py's BASE,
    all on upstream ``a``."""
    smscs = {n: SimulatedSmsc(users={"proxy": "proxypw"}, message_id_prefix=f"{n}-") for n in NAMES}
    async with anyio.create_task_group() as tg:
        for smsc in smscs.values():
            await tg.start(smsc.serve)
        data = copy.deepcopy(BASE)
        data["upstream"] = [
            upstream(n, s.port, **(upstreams or {}).get(n, {})) for n, s in smscs.items() if n in names
        ]
        data["account"] = [dict(a, upstream="a") for a in data["account"]]
        data["route"] = routes
        data = merge(data, override or {})
        app = App(parse_config(data, directory))
        await tg.start(app.run)
        stack = PoolStack(smscs, app, directory, tg, data)
        try:
            await stack.wait_bound()
            yield stack
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await app.stop()
                for smsc in smscs.values():
                    await smsc.stop()
            tg.cancel_scope.cancel()
