"""The simulated SMSC's fault injection (tools/smsc_sim/faults.py), seen from an ESME."""

from __future__ import annotations

import functools

import anyio
import pytest

from gateway.proxy.link import ResponseTimeout
from gateway.smpp.codec import encode
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import BIND_CLASSES, EnquireLink
from tests.smsc_sim_esme import RECEIPT_RE, link_esme
from tools.smsc_sim import running_smsc


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio

C = CommandId
S = CommandStatus


# --- faults ------------------------------------------------------------------------------------------------


async def test_throttle_fail_and_generic_nack() -> None:
    async with running_smsc() as smsc, link_esme(smsc.port) as esme:
        smsc.throttle_next(2)
        smsc.fail_next(1, S.ESME_RSUBMITFAIL)
        statuses = [(await esme.submit()).command_status for _ in range(4)]
        assert statuses == [S.ESME_RTHROTTLED, S.ESME_RTHROTTLED, S.ESME_RSUBMITFAIL, S.ESME_ROK]
        smsc.generic_nack_next(1)
        nack = await esme.submit()
        assert (nack.command_id, nack.command_status) == (C.GENERIC_NACK, S.ESME_RSYSERR)
        assert (await esme.submit()).command_status == S.ESME_ROK
        assert [(r.status, r.generic_nack, bool(r.message_id)) for r in smsc.received] == [
            (S.ESME_RTHROTTLED, False, False),
            (S.ESME_RTHROTTLED, False, False),
            (S.ESME_RSUBMITFAIL, False, False),
            (S.ESME_ROK, False, True),
            (S.ESME_RSYSERR, True, False),
            (S.ESME_ROK, False, True),
        ]
        counters = smsc.counters
        assert (counters["throttled"], counters["failed"], counters["generic_nacks"]) == (2, 1, 1)


async def test_stall_then_resume_and_enquire_link() -> None:
    async with running_smsc() as smsc, link_esme(smsc.port) as esme:
        smsc.stall(True)
        with pytest.raises(ResponseTimeout):
            await esme.submit(timeout=0.3)
        assert smsc.received[-1].status is None  # read, never answered
        assert (await esme.link.request(EnquireLink(), 1)).command_id == C.ENQUIRE_LINK_RESP
        smsc.stall(True, enquire_link=True)
        with pytest.raises(ResponseTimeout):
            await esme.link.request(EnquireLink(), 0.3)
        smsc.stall(False)
        assert (await esme.submit()).command_status == S.ESME_ROK
        assert (await esme.link.request(EnquireLink(), 1)).command_id == C.ENQUIRE_LINK_RESP


async def test_stall_binds() -> None:
    async with running_smsc() as smsc:
        smsc.stall(True, binds=True)
        with pytest.raises(ResponseTimeout):
            async with link_esme(smsc.port, bind_timeout=0.3):
                pass
        smsc.stall(False)
        async with link_esme(smsc.port) as esme:
            assert esme.bind_resp is not None and esme.bind_resp.command_status == S.ESME_ROK


async def test_respond_delay_holds_responses_and_receipts_in_order() -> None:
    async with running_smsc(receipts=True) as smsc, link_esme(smsc.port) as esme:
        smsc.respond_delay(0.3)
        started = anyio.current_time()
        async with anyio.create_task_group() as tg:
            for i in range(3):
                tg.start_soon(functools.partial(esme.submit, short_message=f"m{i}".encode()))
        assert anyio.current_time() - started >= 0.29
        receipts = await esme.wait_delivered(3)
        assert [RECEIPT_RE.match(r.short_message.decode())["text"] for r in receipts] == ["m0", "m1", "m2"]  # type: ignore
        smsc.respond_delay(0)
        started = anyio.current_time()
        await esme.submit()
        assert anyio.current_time() - started < 0.25


async def test_unbind_all() -> None:
    async with running_smsc() as smsc, link_esme(smsc.port) as esme:
        assert await smsc.unbind_all() == 1
        with anyio.fail_after(2):
            await esme.unbound.wait()
            await esme.link.wait_closed()
        assert smsc.bound_sessions == []
        assert smsc.counters["unbinds_sent"] == 1


async def test_disconnect_all_is_abrupt() -> None:
    async with running_smsc() as smsc, link_esme(smsc.port) as esme:
        assert await smsc.disconnect_all() == 1
        with anyio.fail_after(2):
            await esme.link.wait_closed()
        assert not esme.unbound.is_set()
        assert smsc.sessions == {}


async def test_stop_and_serve_again_on_the_same_port() -> None:
    async with running_smsc() as smsc:
        port = smsc.port
        async with link_esme(smsc.port) as esme:
            await smsc.stop()
            with anyio.fail_after(2):
                await esme.link.wait_closed()
        with pytest.raises(OSError):
            await anyio.connect_tcp("127.0.0.1", port)
        await smsc.restart()
        assert smsc.port == port
        async with link_esme(port) as esme:
            assert (await esme.submit()).command_status == S.ESME_ROK


async def test_malformed_pdu_is_answered_and_counted() -> None:
    async with running_smsc() as smsc, await anyio.connect_tcp("127.0.0.1", smsc.port) as stream:
        await stream.send(encode(BIND_CLASSES[C.BIND_TRANSMITTER](sequence_number=1, system_id="x")))
        bad_command = b"\x00\x00\x00\x10\x00\x00\x00\x77\x00\x00\x00\x00\x00\x00\x00\x02"
        await stream.send(bad_command)
        frames = FrameBuffer()
        got: list[bytes] = []
        with anyio.fail_after(2):
            while len(got) < 2:
                frames.feed(await stream.receive())
                got += frames.frames()
        assert got[1][4:12] == b"\x80\x00\x00\x00\x00\x00\x00\x03"  # generic_nack ESME_RINVCMDID
        assert smsc.counters["rejected"] == 1
