"""The simulated SMSC in this process and ``stopgate run`` as a child in front of it, on free ports,
with the config the reliability scenarios measure (admin API on, for the task gauge)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import anyio.abc

from tools.config_toml import simulator_upstream, to_toml
from tools.ports import free_port
from tools.smsc_sim import SimulatedSmsc
from tools.stopgate_process import stopgate_process

__all__ = ["Running", "config_text", "running_stopgate", "sim_and_stopgate"]


def config_text(smsc_port: int, port: int, admin_port: int, **session: float) -> str:
    settings = {"response_timeout": 2.0, "shutdown_grace": 1.0, "bind_timeout": 5.0, **session}
    return to_toml(
        {
            "listen": {"host": "127.0.0.1", "port": port},
            "storage": {"path": "stopgate.db"},
            "logging": {"format": "json", "level": "warning"},
            "session": settings,
            "admin": {"enabled": True, "listen": f"127.0.0.1:{admin_port}", "tokens": ["reliability"]},
            "upstream": [simulator_upstream(smsc_port)],
            "account": [
                {"system_id": "acme", "password": "acmepw", "upstream": "sim", "scope": "acme"}
                | {"max_sessions": 100}
            ],
        }
    )


@dataclass
class Running:
    process: anyio.abc.Process
    port: int
    admin_port: int
    directory: Path

    @property
    def pid(self) -> int:
        return self.process.pid


@contextlib.asynccontextmanager
async def running_stopgate(
    directory: Path,
    smsc_port: int,
    *,
    session: dict[str, float] | None = None,
) -> AsyncIterator[Running]:
    """`stopgate run` on free ports with ``config_text``'s config; SIGTERM (then SIGKILL) at the end."""
    port = free_port()
    admin_port = free_port()
    config = directory / "stopgate.toml"
    config.write_text(config_text(smsc_port, port, admin_port, **(session or {})))
    async with stopgate_process(config, port, admin_port=admin_port, term_grace=5.0) as process:
        yield Running(process, port, admin_port, directory)


@contextlib.asynccontextmanager
async def sim_and_stopgate(directory: Path, **session: float) -> AsyncIterator[tuple[SimulatedSmsc, Running]]:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"}, keep=1000)
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        async with running_stopgate(directory, smsc.port, session=session) as running:
            yield smsc, running
        await smsc.stop()
        tg.cancel_scope.cancel()
