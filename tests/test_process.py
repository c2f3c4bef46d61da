"""A real `stopgate run` process: graceful SIGTERM, and opt-outs that survive a restart."""

from __future__ import annotations

import signal
from pathlib import Path

import anyio
import pytest
from anyio import to_thread

from gateway.smpp.constants import CommandStatus
from tests.config_file import write_config as write_config_file
from tests.esme import Esme
from tools.ports import free_port
from tools.smsc_sim import SimulatedSmsc
from tools.stopgate_process import stopgate_process

pytestmark = pytest.mark.anyio


def write_config(directory: Path, smsc_port: int) -> tuple[Path, int]:
    """``directory/stopgate.toml``: the test config (tests/stack.py's BASE) against a simulator on
    ``smsc_port``, listening on a free port; returns (path, port)."""
    port = free_port()
    override = {"listen": {"port": port}, "logging": {"level": "info"}}
    return write_config_file(directory / "stopgate.toml", smsc_port, override), port


async def test_sigterm_unbinds_and_exits_zero(tmp_path: Path) -> None:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        config, port = write_config(tmp_path, smsc.port)
        async with stopgate_process(config, port) as process:
            esme = Esme(port)
            await to_thread.run_sync(esme.bind)
            resp = await to_thread.run_sync(esme.submit, "447700900401", "hello")
            assert resp.status == 0
            process.send_signal(signal.SIGTERM)
            with anyio.fail_after(10):
                rc = await process.wait()
            assert rc == 0
            await to_thread.run_sync(esme.wait_closed, 5)
            await smsc.wait_until(lambda: not smsc.bound_sessions, timeout=5)
            assert smsc.counters["unbinds"] >= 1  # the upstream session was unbound, not dropped
        log = (tmp_path / "stopgate.log").read_text()
        assert "acmepw" not in log and "proxypw" not in log  # no passwords in logs, ever
        await smsc.stop()
        tg.cancel_scope.cancel()


async def test_optouts_survive_a_restart(tmp_path: Path) -> None:
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        config, port = write_config(tmp_path, smsc.port)
        async with stopgate_process(config, port) as process:
            esme = Esme(port)
            await to_thread.run_sync(esme.bind)
            resp = await smsc.deliver(source_addr="447700900401", destination_addr="88088", text="STOP")
            assert resp.command_status == 0
            process.kill()  # no chance to flush anything: the commit happened before the resp
            await process.wait()
            esme.close()
        async with stopgate_process(config, port):
            esme = Esme(port)
            await to_thread.run_sync(esme.bind)
            before = smsc.submit_count
            resp = await to_thread.run_sync(lambda: esme.submit("07700900401", "Sale!", dest_addr_ton=2))
            assert resp.status == CommandStatus.ESME_RSUBMITFAIL
            assert smsc.submit_count == before
            esme.close()
        await smsc.stop()
        tg.cancel_scope.cancel()
