"""The transparent proxy end to end: smpplib's client → Stopgate → the simulated SMSC (issue #2)."""

from __future__ import annotations

from pathlib import Path

import anyio
import pytest
import smpplib.exceptions
from anyio import to_thread

from gateway.smpp.codec import decode, encode
from gateway.smpp.constants import BindMode, CommandId, CommandStatus
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import BindTransceiver, EnquireLink, SubmitSm
from tests.esme import Esme
from tests.stack import running_stack

pytestmark = pytest.mark.anyio

S = CommandStatus
OTP = {"traffic": "transactional"}


def transactional(**session: object) -> dict[str, object]:
    """Config with the acme account transactional (no footer, no blocking): a pure relay."""
    from tests.stack import BASE

    accounts = [dict(a) for a in BASE["account"]]
    accounts[0]["traffic"] = "transactional"
    return {"account": accounts, "session": session}


async def bound(port: int, mode: str = "trx", system_id: str = "acme", password: str = "acmepw") -> Esme:
    esme = Esme(port, system_id, password)
    await to_thread.run_sync(esme.bind, mode)
    return esme


async def raw_exchange(port: int, *pdus: object, expect: int = 1, timeout: float = 3.0) -> list[object]:
    """Send PDUs on a raw TCP connection (no client-side state checks) and read ``expect`` PDUs back."""
    frames = FrameBuffer()
    out = []
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        for pdu in pdus:
            await stream.send(encode(pdu))  # type: ignore[arg-type]
        with anyio.fail_after(timeout):
            while len(out) < expect:
                frames.feed(await stream.receive())
                out += map(decode, frames.frames())
    return out


@pytest.mark.parametrize(
    ("mode", "bind_mode"),
    [("trx", BindMode.TRANSCEIVER), ("tx", BindMode.TRANSMITTER), ("rx", BindMode.RECEIVER)],
)
async def test_bind_holds_an_upstream_session_in_the_same_mode(
    tmp_path: Path, mode: str, bind_mode: BindMode
) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack.port, mode)
        sessions = await stack.smsc.wait_for_binds(1)
        assert sessions[0].mode == bind_mode
        assert sessions[0].system_id == "proxy"  # the upstream's credentials, not the ESME's
        esme.close()


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [("nobody", "acmepw", S.ESME_RINVSYSID), ("acme", "wrong", S.ESME_RINVPASWD)],
)
async def test_bind_refused_for_bad_credentials(
    tmp_path: Path, system_id: str, password: str, status: int
) -> None:
    async with running_stack(tmp_path) as stack:
        esme = Esme(stack.port, system_id, password)
        with pytest.raises(smpplib.exceptions.PDUError) as info:
            await to_thread.run_sync(esme.bind)
        assert info.value.args[1] == status
        assert stack.smsc.bound_sessions == []
        esme.close()


async def test_bind_fails_when_the_upstream_refuses(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        stack.smsc.refuse_binds(True)
        esme = Esme(stack.port)
        with pytest.raises(smpplib.exceptions.PDUError) as info:
            await to_thread.run_sync(esme.bind)
        assert info.value.args[1] == S.ESME_RBINDFAIL
        esme.close()


async def test_bind_fails_when_the_upstream_is_down(tmp_path: Path) -> None:
    from tests.stack import BASE

    # Connects are retried (with backoff) for the upstream's bind_timeout before the bind is refused.
    upstream = {**BASE["upstream"][0], "bind_timeout": 0.5}
    async with running_stack(tmp_path, {"upstream": [upstream]}) as stack:
        await stack.smsc.stop()
        esme = Esme(stack.port)
        with pytest.raises(smpplib.exceptions.PDUError) as info:
            await to_thread.run_sync(esme.bind)
        assert info.value.args[1] == S.ESME_RBINDFAIL
        esme.close()


async def test_requests_before_bind_get_invbndsts(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        submit = SubmitSm(sequence_number=7, destination_addr="447700900401", short_message=b"hi")
        (resp,) = await raw_exchange(stack.port, submit)
        assert resp.command_id == CommandId.SUBMIT_SM_RESP  # type: ignore[attr-defined]
        assert resp.command_status == S.ESME_RINVBNDSTS  # type: ignore[attr-defined]
        assert resp.sequence_number == 7  # type: ignore[attr-defined]
        assert stack.smsc.submit_count == 0


async def test_submit_relays_the_smsc_message_id_and_remaps_sequences(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional()) as stack:
        esme = await bound(stack.port)
        responses = [await to_thread.run_sync(esme.submit, "447700900401", f"msg {i}") for i in range(3)]
        received = await stack.smsc.wait_for_submits(3)
        assert [r.status for r in responses] == [0, 0, 0]
        assert [r.message_id.decode() for r in responses] == [rec.message_id for rec in received]
        assert [rec.text for rec in received] == ["msg 0", "msg 1", "msg 2"]
        esme.close()


async def test_unchanged_submit_reaches_the_smsc_byte_for_byte(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional()) as stack:
        bind = BindTransceiver(sequence_number=1, system_id="acme", password="acmepw")
        submit = SubmitSm(
            sequence_number=2,
            destination_addr="447700900401",
            short_message=b"exact",
            tlvs=((0x1400, b"vendor-tlv"), (0x0204, b"\x00\x07")),
        )  # type: ignore[arg-type]
        async with await anyio.connect_tcp("127.0.0.1", stack.port) as stream:
            await stream.send(encode(bind))
            await stream.receive()
            await stream.send(encode(submit))
            (received,) = await stack.smsc.wait_for_submits(1)
        assert received.pdu.raw[16:] == encode(submit)[16:]  # only the sequence number may differ


async def test_mo_and_receipt_reach_the_esme_and_its_resp_goes_back_up(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional()) as stack:
        esme = await bound(stack.port)
        esme.deliver_status = S.ESME_RX_P_APPN
        resp = await stack.smsc.deliver(
            source_addr="447700900401", destination_addr="88088", text="Hello shop"
        )
        assert resp.command_status == S.ESME_RX_P_APPN  # the ESME's own answer, relayed
        esme.deliver_status = 0
        submit = await to_thread.run_sync(
            lambda: esme.submit("447700900401", "with receipt", registered_delivery=1)
        )
        delivered = await to_thread.run_sync(esme.wait_delivered, 2)
        assert delivered[0].short_message == b"Hello shop"
        receipt = delivered[1]
        assert receipt.esm_class & 0x04
        assert submit.message_id in receipt.short_message
        await stack.smsc.wait_until(lambda: stack.smsc.counters["receipts_acked"] == 1)
        esme.close()


async def test_enquire_link_answered_locally_on_both_legs(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional(enquire_link_interval=0.3)) as stack:
        (resp,) = await raw_exchange(stack.port, EnquireLink(sequence_number=5))
        assert resp.command_id == CommandId.ENQUIRE_LINK_RESP  # type: ignore[attr-defined]
        esme = await bound(stack.port)
        # Idle links get the proxy's own keep-alives on both legs; each answer stays on its leg.
        counts = stack.app.metrics.pdu_counts
        C = CommandId
        with anyio.fail_after(3):
            while not all(
                counts.get((leg, "in", C.ENQUIRE_LINK_RESP, 0), 0) >= 1 for leg in ("esme", "upstream:sim")
            ):
                await anyio.sleep(0.05)
        assert (
            counts.get(("esme", "out", C.ENQUIRE_LINK_RESP, 0), 0) == 1
        )  # the raw client's, answered locally
        assert counts.get(("upstream:sim", "out", C.ENQUIRE_LINK_RESP, 0), 0) == 0
        assert esme.responses == {}
        esme.close()


async def test_unbind_from_the_esme_unbinds_upstream(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack.port)
        await stack.smsc.wait_for_binds(1)
        await to_thread.run_sync(esme.unbind)
        await stack.smsc.wait_until(lambda: not stack.smsc.bound_sessions, timeout=3)
        assert stack.smsc.counters["unbinds"] == 1
        await to_thread.run_sync(esme.wait_closed)


async def test_unbind_from_the_smsc_reaches_the_esme(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack.port)
        await stack.smsc.wait_for_binds(1)
        await stack.smsc.unbind_all()
        await to_thread.run_sync(esme.wait_closed, 5)
        with anyio.fail_after(3):  # the socket closes a moment before the session is forgotten
            while stack.app.proxy.sessions:  # type: ignore[union-attr]
                await anyio.sleep(0.02)


async def test_window_overflow_gets_throttled(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional(window=2)) as stack:
        esme = await bound(stack.port)
        stack.smsc.stall(True)
        pdus = [
            await to_thread.run_sync(lambda: esme.submit("447700900401", "x", wait=False)) for _ in range(3)
        ]
        third = await to_thread.run_sync(esme.wait_response, pdus[2].sequence)
        assert third.status == S.ESME_RTHROTTLED
        assert pdus[0].sequence not in esme.responses
        esme.close()


async def test_the_upstream_window_bounds_requests_in_flight_to_the_smsc(tmp_path: Path) -> None:
    """[[upstream]].window, not session.window, is how many submits the SMSC has unanswered at once."""
    from tests.stack import BASE

    config = transactional(window=8)
    config["upstream"] = [dict(BASE["upstream"][0], window=2)]
    async with running_stack(tmp_path, config) as stack:
        esme = await bound(stack.port)
        stack.smsc.stall(True)
        pdus = [
            await to_thread.run_sync(lambda: esme.submit("447700900401", "x", wait=False)) for _ in range(4)
        ]
        for pdu in pdus[2:]:
            resp = await to_thread.run_sync(esme.wait_response, pdu.sequence)
            assert resp.status == S.ESME_RTHROTTLED
        await stack.smsc.wait_for_submits(2)
        await anyio.sleep(0.2)
        assert stack.smsc.submit_count == 2
        esme.close()


async def test_response_timeout_answers_the_esme_with_an_error(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional(response_timeout=0.5)) as stack:
        esme = await bound(stack.port)
        stack.smsc.stall(True)
        pdu = await to_thread.run_sync(lambda: esme.submit("447700900401", "x", wait=False))
        resp = await to_thread.run_sync(esme.wait_response, pdu.sequence, 3.0)
        assert resp.status == S.ESME_RSYSERR
        esme.close()


async def test_upstream_loss_fails_in_flight_requests_and_closes_the_esme(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional()) as stack:
        esme = await bound(stack.port)
        stack.smsc.stall(True)
        pdu = await to_thread.run_sync(lambda: esme.submit("447700900401", "x", wait=False))
        await stack.smsc.wait_for_submits(1)
        await stack.smsc.disconnect_all()
        resp = await to_thread.run_sync(esme.wait_response, pdu.sequence, 3.0)
        assert resp.status != S.ESME_ROK
        await to_thread.run_sync(esme.wait_closed, 5)
        # The ESME binds again once the SMSC is back: a fresh upstream session is made.
        stack.smsc.stall(False)
        again = await bound(stack.port)
        assert (await to_thread.run_sync(again.submit, "447700900401", "back")).status == 0
        again.close()


async def test_throttled_from_the_smsc_is_relayed_not_retried(tmp_path: Path) -> None:
    async with running_stack(tmp_path, transactional()) as stack:
        esme = await bound(stack.port)
        stack.smsc.throttle_next(1)
        resp = await to_thread.run_sync(esme.submit, "447700900401", "x")
        assert resp.status == S.ESME_RTHROTTLED
        assert stack.smsc.submit_count == 1
        esme.close()


async def test_proxy_added_latency_is_sampled_into_the_histogram(tmp_path: Path) -> None:
    from gateway.proxy.relay import LATENCY_SAMPLE

    async with running_stack(tmp_path, transactional()) as stack:
        esme = await bound(stack.port)
        for _ in range(LATENCY_SAMPLE * 2):
            assert (await to_thread.run_sync(esme.submit, "447700900401", "x")).status == 0
        registry = stack.app.metrics.registry
        count = registry.get_sample_value("stopgate_proxy_added_latency_seconds_count")
        total = registry.get_sample_value("stopgate_proxy_added_latency_seconds_sum")
        assert count == 2
        assert total is not None and 0 < total < 1.0
        esme.close()
