"""The simulated SMSC's JSON control port (tools/smsc_sim/control.py) and its client, tools/smsc_ctl.py."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest

from gateway.proxy.link import ResponseTimeout
from gateway.smpp.constants import CommandId, CommandStatus, Tag
from gateway.smpp.fields import find_tlv
from tests.smsc_sim_esme import link_esme, smpplib_bind_status
from tools import smsc_ctl
from tools.smsc_sim import SimulatedSmsc, running_smsc


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio

C = CommandId
S = CommandStatus


# --- control port -------------------------------------------------------------------------------------------


class ControlClient:
    def __init__(self, stream: anyio.abc.ByteStream) -> None:
        from anyio.streams.buffered import BufferedByteReceiveStream

        self.stream = stream
        self.reader = BufferedByteReceiveStream(stream)

    async def send_line(self, line: bytes) -> dict[str, Any]:
        await self.stream.send(line + b"\n")
        with anyio.fail_after(5):
            reply: dict[str, Any] = json.loads(await self.reader.receive_until(b"\n", 1 << 20))
        return reply

    async def __call__(self, **command: Any) -> dict[str, Any]:
        return await self.send_line(json.dumps(command).encode())


@asynccontextmanager
async def control_client(smsc: SimulatedSmsc) -> AsyncIterator[ControlClient]:
    assert smsc.control_port is not None
    async with await anyio.connect_tcp("127.0.0.1", smsc.control_port) as stream:
        yield ControlClient(stream)


async def test_control_port_faults_and_stats() -> None:
    async with (
        running_smsc(control_port=0) as smsc,
        control_client(smsc) as ctl,
        link_esme(smsc.port) as esme,
    ):
        assert (await ctl(cmd="ping")) == {"ok": True}
        assert (await ctl(cmd="throttle", n=1))["faults"]["throttle_left"] == 1
        assert (await esme.submit()).command_status == S.ESME_RTHROTTLED
        assert (await ctl(cmd="fail", n=1, status=0x45))["ok"]
        assert (await esme.submit()).command_status == S.ESME_RSUBMITFAIL
        assert (await ctl(cmd="generic_nack", n=1))["ok"]
        assert (await esme.submit()).command_id == C.GENERIC_NACK
        assert (await ctl(cmd="stall", on=True))["faults"]["stalled"] is True
        with pytest.raises(ResponseTimeout):
            await esme.submit(timeout=0.2)
        assert (await ctl(cmd="stall", on=False))["faults"]["stalled"] is False
        assert (await ctl(cmd="delay", seconds=0.0))["ok"]
        assert (await esme.submit()).command_status == S.ESME_ROK
        stats = await ctl(cmd="stats")
        assert stats["ok"] and stats["submits"] == 5 and stats["counters"]["throttled"] == 1
        assert stats["sessions"] == [{"id": 1, "peer": stats["sessions"][0]["peer"], "system_id": "proxy",
                                      "mode": "transceiver"}]  # fmt: skip
        received = await ctl(cmd="received", last=1)
        assert received["records"][0]["status"] == 0 and received["records"][0]["text"] == "Hello"
        assert (await ctl(cmd="refuse_binds", on=True))["faults"]["refuse_binds"] is True
        status = await anyio.to_thread.run_sync(smpplib_bind_status, smsc.port, "proxy", "pw")
        assert status == S.ESME_RBINDFAIL
        assert (await ctl(cmd="reset", clear=True))["faults"]["refuse_binds"] is False
        assert smsc.submit_count == 0


async def test_control_port_deliver_unbind_and_disconnect() -> None:
    async with running_smsc(control_port=0) as smsc, control_client(smsc) as ctl:
        stop = {"cmd": "deliver", "source_addr": "447700900401", "destination_addr": "88088", "text": "STOP"}
        reply = await ctl(**stop)
        assert reply["ok"] is False and "no receiver" in reply["error"]
        async with link_esme(smsc.port) as esme:
            esme.mo_status = S.ESME_RX_T_APPN
            reply = await ctl(**stop)
            assert reply == {
                "ok": True,
                "status": 0x64,
                "status_name": "ESME_RX_T_APPN",
                "command": "deliver_sm_resp",
            }
            esme.mo_status = 0
            reply = await ctl(cmd="deliver_data_sm", source_addr="1", destination_addr="2", hex="48454c50")
            assert reply["ok"] and reply["command"] == "data_sm_resp"
            assert find_tlv(esme.delivered[1].tlvs, Tag.MESSAGE_PAYLOAD) == b"HELP"  # type: ignore[attr-defined]
            assert (await ctl(cmd="unbind_all")) == {"ok": True, "sessions": 1}
            with anyio.fail_after(2):
                await esme.link.wait_closed()
            assert esme.unbound.is_set()
        async with link_esme(smsc.port) as esme:
            assert (await ctl(cmd="disconnect_all")) == {"ok": True, "sessions": 1}
            with anyio.fail_after(2):
                await esme.link.wait_closed()


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (b"not json", "bad JSON"),
        (b"[1, 2]", "expected a JSON object"),
        (b'{"nocmd": 1}', "unknown command"),
        (b'{"cmd": "explode"}', "unknown command"),
        (b'{"cmd": "throttle"}', "bad arguments"),
        (b'{"cmd": "throttle", "n": "many"}', "bad arguments"),
        (b'{"cmd": "fail", "n": true}', "bad arguments"),
        (b'{"cmd": "stall", "on": 1}', "bad arguments"),
        (b'{"cmd": "delay", "seconds": "soon"}', "bad arguments"),
        (b'{"cmd": "deliver", "text": "STOP"}', "bad arguments"),
        (b'{"cmd": "deliver", "source_addr": "1", "destination_addr": "2", "bogus": 1}', "bad arguments"),
        (b'{"cmd": "deliver", "source_addr": "1", "destination_addr": "2", "hex": "zz"}', "bad arguments"),
        (b"\xff\xfe\x00", "bad JSON"),
    ],
)
async def test_control_port_bad_input_never_crashes(line: bytes, error: str) -> None:
    async with running_smsc(control_port=0) as smsc, control_client(smsc) as ctl:
        reply = await ctl.send_line(line)
        assert reply["ok"] is False
        assert error in reply["error"]
        assert (await ctl(cmd="ping")) == {"ok": True}  # the same connection still works


def printed(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    """The JSON line smsc_ctl printed (the simulator's own log lines may share stdout)."""
    lines = [line for line in capsys.readouterr().out.splitlines() if line.startswith('{"ok"')]
    assert len(lines) == 1, lines
    result: dict[str, Any] = json.loads(lines[0])
    return result


async def test_smsc_ctl_cli(capsys: pytest.CaptureFixture[str]) -> None:
    async with running_smsc(control_port=0) as smsc:
        port = str(smsc.control_port)

        def run(*argv: str) -> int:
            return smsc_ctl.main(["--port", port, *argv])

        assert await anyio.to_thread.run_sync(run, "throttle", "3") == 0
        assert printed(capsys)["faults"]["throttle_left"] == 3
        assert await anyio.to_thread.run_sync(run, "stall", "on", "--enquire-link") == 0
        assert smsc.faults["stall_enquire_link"] is True
        assert await anyio.to_thread.run_sync(run, "fail", "2", "--status", "0x45") == 0
        assert (smsc.faults["fail_left"], smsc.faults["fail_status"]) == (2, 0x45)
        capsys.readouterr()
        deliver = ("deliver", "--from", "447700900401", "--to", "88088", "--text", "STOP")
        assert await anyio.to_thread.run_sync(run, *deliver) == 1
        assert "no receiver" in printed(capsys)["error"]
        assert await anyio.to_thread.run_sync(run, "raw", '{"cmd": "nope"}') == 1
        capsys.readouterr()
    assert smsc_ctl.main(["--port", port, "ping"]) == 2  # nothing listening any more
    assert printed(capsys)["ok"] is False
