"""The simulated SMSC (tools/smsc_sim.py), driven by smpplib and by our own Link as the ESME."""

from __future__ import annotations

import functools
import json
import re
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions

from gateway.proxy.link import Link, LinkTimers, ResponseTimeout
from gateway.smpp.codec import decode, encode, encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.constants import BindMode, CommandId, CommandStatus, EsmClass, MessageState, Tag
from gateway.smpp.events import Request
from gateway.smpp.fields import Dest, Tlv, find_tlv
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import (
    BIND_CLASSES,
    CancelSm,
    DataSm,
    EnquireLink,
    Pdu,
    QuerySm,
    ReplaceSm,
    SubmitMulti,
    SubmitSm,
    SubmitSmResp,
    make_response,
)
from gateway.smpp.states import Role
from tools import smsc_ctl
from tools.smsc_sim import (
    NoReceiverError,
    SimulatedSmsc,
    format_receipt,
    parse_users,
    running_smsc,
    submit_sm_resp,
)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio

C = CommandId
S = CommandStatus
USERS = {"proxy": "proxypw", "other": "otherpw"}
RECEIPT_RE = re.compile(
    r"^id:(?P<id>\S+) sub:001 dlvrd:001 submit date:\d{10} done date:\d{10}"
    r" stat:DELIVRD err:000 text:(?P<text>.*)$"
)


# --- an ESME made of our own Link -------------------------------------------------------------------


class LinkEsme:
    """An ESME on our own Link: answers deliver_sm/data_sm with ``mo_status`` and unbind politely."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.mo_status: int = S.ESME_ROK
        self.delivered: list[Pdu] = []
        self.unbound = anyio.Event()
        self.bind_resp: Pdu | None = None
        self._changed = anyio.Event()

    def on_event(self, link: Link, event: object) -> None:
        if type(event) is not Request:
            return
        pdu = event.pdu
        if pdu.command_id in (C.DELIVER_SM, C.DATA_SM):
            self.delivered.append(pdu)
            link.respond(make_response(pdu, self.mo_status))
            self._changed.set()
            self._changed = anyio.Event()
        elif pdu.command_id == C.UNBIND:
            link.answer_unbind(pdu)
            self.unbound.set()

    async def wait_delivered(self, count: int, timeout: float = 3.0) -> list[Pdu]:
        with anyio.fail_after(timeout):
            while len(self.delivered) < count:
                await self._changed.wait()
        return self.delivered

    async def submit(self, timeout: float = 2.0, **fields: Any) -> Pdu:
        fields.setdefault("source_addr_ton", 5)
        fields.setdefault("source_addr", "Shop")
        fields.setdefault("dest_addr_ton", 1)
        fields.setdefault("dest_addr_npi", 1)
        fields.setdefault("destination_addr", "447700900123")
        fields.setdefault("short_message", b"Hello")
        return await self.link.request(SubmitSm(**fields), timeout)


@asynccontextmanager
async def link_esme(
    port: int,
    mode: BindMode = BindMode.TRANSCEIVER,
    system_id: str = "proxy",
    password: str = "proxypw",
    *,
    bind_timeout: float = 2.0,
) -> AsyncIterator[LinkEsme]:
    """A bound ESME (raises ResponseTimeout if the bind is not answered in ``bind_timeout``)."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    link = Link(
        stream,
        Connection(Role.ESME, response_timeout=5.0),
        name="test-esme",
        timers=LinkTimers(enquire_link_interval=0, inactivity_timeout=0),
    )
    esme = LinkEsme(link)
    bind_error: ResponseTimeout | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(link.run, esme.on_event)
        try:
            bind_pdu = BIND_CLASSES[mode](system_id=system_id, password=password)
            esme.bind_resp = await link.request(bind_pdu, bind_timeout)
        except ResponseTimeout as exc:
            bind_error = exc
        if bind_error is None:
            try:
                yield esme
            finally:
                await link.close()
                tg.cancel_scope.cancel()
        else:
            await link.close()
            tg.cancel_scope.cancel()
    if bind_error is not None:
        raise bind_error


# --- smpplib in a thread -----------------------------------------------------------------------------


def smpplib_client(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=3, allow_unknown_opt_params=True)
    client.connect()
    return client


def smpplib_bind_status(port: int, system_id: str, password: str, mode: str = "transmitter") -> int:
    """Bind with smpplib; returns the bind response's status (0 on success)."""
    client = smpplib_client(port)
    try:
        getattr(client, f"bind_{mode}")(system_id=system_id, password=password)
        return 0
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()


# --- binds ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("system_id", "password", "status"),
    [
        ("proxy", "proxypw", S.ESME_ROK),
        ("nobody", "proxypw", S.ESME_RINVSYSID),
        ("proxy", "wrong", S.ESME_RINVPASWD),
    ],
)
async def test_bind_checks_credentials_smpplib(system_id: str, password: str, status: int) -> None:
    async with running_smsc(users=USERS) as smsc:
        got = await anyio.to_thread.run_sync(smpplib_bind_status, smsc.port, system_id, password)
        assert got == status
        assert smsc.counters["binds" if status == 0 else "bind_failures"] == 1


async def test_any_credentials_without_users_and_refuse_binds() -> None:
    async with running_smsc() as smsc:

        async def bind() -> int:
            return await anyio.to_thread.run_sync(smpplib_bind_status, smsc.port, "anyone", "x")

        assert await bind() == 0
        smsc.refuse_binds(True)
        assert await bind() == S.ESME_RBINDFAIL
        smsc.refuse_binds(False)
        assert await bind() == 0


async def test_bound_sessions_report_system_id_and_mode() -> None:
    async with running_smsc(users=USERS) as smsc:
        async with (
            link_esme(smsc.port, BindMode.TRANSMITTER) as tx,
            link_esme(smsc.port, BindMode.RECEIVER, "other", "otherpw") as rx,
            link_esme(smsc.port, BindMode.TRANSCEIVER) as trx,
        ):
            for esme in (tx, rx, trx):
                assert esme.bind_resp is not None
                assert esme.bind_resp.command_status == S.ESME_ROK
                assert esme.bind_resp.system_id == "smscsim"  # type: ignore[attr-defined]
                assert find_tlv(esme.bind_resp.tlvs, Tag.SC_INTERFACE_VERSION) == b"\x34"  # type: ignore[attr-defined]
            sessions = await smsc.wait_for_binds(3)
            assert [(s.system_id, s.mode) for s in sessions] == [
                ("proxy", BindMode.TRANSMITTER),
                ("other", BindMode.RECEIVER),
                ("proxy", BindMode.TRANSCEIVER),
            ]
            assert [s.mode for s in await smsc.wait_for_binds(1, system_id="other")] == [BindMode.RECEIVER]
        await smsc.wait_until(lambda: not smsc.sessions, what="sessions to close")


# --- submits ------------------------------------------------------------------------------------------


def _smpplib_submit_with_receipt(port: int) -> tuple[Any, Any]:
    client = smpplib_client(port)
    try:
        client.bind_transceiver(system_id="proxy", password="proxypw")
        client.send_message(
            source_addr_ton=smpplib.consts.SMPP_TON_ALNUM,
            source_addr="Shop",
            dest_addr_ton=smpplib.consts.SMPP_TON_INTL,
            dest_addr_npi=smpplib.consts.SMPP_NPI_ISDN,
            destination_addr="447700900123",
            short_message=b"Your parcel arrives today between 10 and 12",
            registered_delivery=1,
        )
        resp = client.read_pdu()
        receipt = client.read_pdu()
        client._message_received(receipt)  # answers with deliver_sm_resp ESME_ROK
        return resp, receipt
    finally:
        client.disconnect()


async def test_submit_gets_message_id_and_receipt_smpplib() -> None:
    async with running_smsc(users=USERS) as smsc:
        smsc_seen: list[Any] = []
        resp, receipt = await anyio.to_thread.run_sync(_smpplib_submit_with_receipt, smsc.port)
        assert resp.command == "submit_sm_resp"
        assert resp.status == 0
        message_id = resp.message_id.decode()
        (record,) = await smsc.wait_for_submits(1)
        smsc_seen.append(record)
        assert record.system_id == "proxy"
        assert record.message_id == message_id
        assert record.accepted
        assert record.text == "Your parcel arrives today between 10 and 12"
        assert smsc.submits_to("447700900123") == [record]
        assert smsc.submits_to("447700900999") == []

        assert receipt.command == "deliver_sm"
        assert receipt.esm_class == EsmClass.SMSC_DELIVERY_RECEIPT
        assert receipt.source_addr == b"447700900123"
        assert receipt.destination_addr == b"Shop"
        match = RECEIPT_RE.match(receipt.short_message.decode())
        assert match is not None, receipt.short_message
        assert match["id"] == message_id
        assert match["text"] == "Your parcel arrives "
        assert receipt.receipted_message_id == message_id.encode()
        assert receipt.message_state == MessageState.DELIVERED
        await smsc.wait_until(lambda: smsc.counters["receipts_acked"] == 1, what="receipt acked")


async def test_receipt_tlvs_and_routing_to_another_receiver() -> None:
    """A transmitter's receipt goes to a receiver of the same system_id, never to another system_id."""
    async with (
        running_smsc(users=USERS, receipt_delay=0.05) as smsc,
        link_esme(smsc.port, BindMode.TRANSMITTER) as tx,
        link_esme(smsc.port, BindMode.RECEIVER, "other", "otherpw") as other,
        link_esme(smsc.port, BindMode.RECEIVER) as rx,
    ):
        resp = await tx.submit(registered_delivery=1, short_message=b"hi")
        message_id = resp.message_id  # type: ignore[attr-defined]
        (receipt,) = await rx.wait_delivered(1)
        assert receipt.esm_class == 0x04  # type: ignore[attr-defined]
        assert find_tlv(receipt.tlvs, 0x001E) == message_id.encode() + b"\x00"  # type: ignore[attr-defined]
        assert find_tlv(receipt.tlvs, 0x0427) == b"\x02"  # type: ignore[attr-defined]
        text = receipt.short_message.decode()  # type: ignore[attr-defined]
        assert text.startswith(f"id:{message_id} ") and text.endswith("text:hi")
        assert other.delivered == []
        # No receipt without registered_delivery (receipts=False).
        await tx.submit(short_message=b"no receipt")
        await smsc.wait_until(lambda: smsc.counters["receipts_acked"] == 1)
        assert smsc.counters["receipts_sent"] == 1


async def test_receipt_waits_for_a_receiver_to_bind() -> None:
    async with running_smsc(users=USERS, receipts=True) as smsc:
        async with link_esme(smsc.port, BindMode.TRANSMITTER) as tx:
            resp = await tx.submit()
            await smsc.wait_until(lambda: smsc.counters["receipts_parked"] == 1, what="parked receipt")
            async with link_esme(smsc.port, BindMode.RECEIVER) as rx:
                (receipt,) = await rx.wait_delivered(1)
                assert find_tlv(receipt.tlvs, Tag.RECEIPTED_MESSAGE_ID)[:-1].decode() == resp.message_id  # type: ignore
        assert smsc.stats()["receipts_parked"] == 0


async def test_submit_multi_data_sm_query_cancel_replace() -> None:
    async with running_smsc(message_id_prefix="sim1-") as smsc, link_esme(smsc.port) as esme:
        link = esme.link
        multi = SubmitMulti(
            source_addr="Shop",
            dests=(Dest(1, 1, 1, "447700900001"), Dest(1, 1, 1, "447700900002")),
            short_message=b"multi",
        )
        multi_resp = await link.request(multi, 2)
        assert multi_resp.command_id == C.SUBMIT_MULTI_RESP
        assert multi_resp.command_status == S.ESME_ROK
        assert multi_resp.unsuccess_smes == ()  # type: ignore[attr-defined]
        data_sm = DataSm(
            source_addr="Shop", destination_addr="447700900003", tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"data"),)
        )
        data_resp = await link.request(data_sm, 2)
        assert data_resp.command_id == C.DATA_SM_RESP
        submit_resp = await esme.submit()
        ids = [r.message_id for r in (multi_resp, data_resp, submit_resp)]  # type: ignore[attr-defined]
        assert len(set(ids)) == 3 and all(i.startswith("sim1-") for i in ids)
        assert [r.text for r in smsc.received] == ["multi", "data", "Hello"]
        assert smsc.submits_to("447700900002")[0].pdu is smsc.received[0].pdu

        query = await link.request(QuerySm(message_id=ids[2], source_addr="Shop"), 2)
        assert query.command_status == S.ESME_ROK
        assert query.message_state == MessageState.DELIVERED  # type: ignore[attr-defined]
        assert len(query.final_date) == 16  # type: ignore[attr-defined]
        unknown = await link.request(QuerySm(message_id="sim1-ffffff", source_addr="Shop"), 2)
        assert unknown.command_status == S.ESME_RINVMSGID
        cancel = await link.request(CancelSm(message_id=ids[2], source_addr="Shop"), 2)
        assert (cancel.command_id, cancel.command_status) == (C.CANCEL_SM_RESP, S.ESME_ROK)
        replace = await link.request(ReplaceSm(message_id=ids[2], short_message=b"new"), 2)
        assert (replace.command_id, replace.command_status) == (C.REPLACE_SM_RESP, S.ESME_ROK)
        assert smsc.counters["query_sm"] == 2 and smsc.counters["cancel_sm"] == 1


async def test_wait_for_submits_times_out_with_a_message() -> None:
    async with running_smsc() as smsc:
        with pytest.raises(TimeoutError, match="1 submits"):
            await smsc.wait_for_submits(1, timeout=0.1)


# --- mobile-originated messages -------------------------------------------------------------------------


def _smpplib_receive_one(client: smpplib.client.Client, status: int, seen: list[Any]) -> None:
    def handler(pdu: Any, **_: Any) -> int:
        seen.append(pdu)
        return status

    client.set_message_received_handler(handler)
    client.read_once()


async def test_mo_returns_the_esme_status_smpplib() -> None:
    async with running_smsc(users=USERS) as smsc:
        client = await anyio.to_thread.run_sync(smpplib_client, smsc.port)
        try:
            bind = functools.partial(client.bind_receiver, system_id="proxy", password="proxypw")
            await anyio.to_thread.run_sync(bind)
            seen: list[Any] = []
            reader = threading.Thread(target=_smpplib_receive_one, args=(client, S.ESME_RX_T_APPN, seen))
            reader.start()
            resp = await smsc.deliver(source_addr="447700900401", destination_addr="88088", text="STOP")
            await anyio.to_thread.run_sync(reader.join, 3)
            assert resp.command_id == C.DELIVER_SM_RESP
            assert resp.command_status == S.ESME_RX_T_APPN
            (pdu,) = seen
            assert pdu.short_message == b"STOP"
            assert (pdu.source_addr, pdu.destination_addr) == (b"447700900401", b"88088")
            assert (pdu.source_addr_ton, pdu.source_addr_npi) == (1, 1)
        finally:
            await anyio.to_thread.run_sync(client.disconnect)


async def test_mo_to_link_esme_by_system_id_with_encoding_and_data_sm() -> None:
    async with running_smsc(users=USERS) as smsc:
        with pytest.raises(NoReceiverError):
            await smsc.deliver(source_addr="447700900401", destination_addr="88088", text="STOP")
        async with (
            link_esme(smsc.port, BindMode.TRANSMITTER) as tx,
            link_esme(smsc.port, BindMode.RECEIVER, "other", "otherpw") as other,
            link_esme(smsc.port, BindMode.TRANSCEIVER) as trx,
        ):
            trx.mo_status = S.ESME_RX_P_APPN
            resp = await smsc.deliver(
                system_id="proxy",
                source_addr="447700900401",
                destination_addr="88088",
                text="Stop ✋",
                data_coding=8,
            )
            assert resp.command_status == S.ESME_RX_P_APPN
            (mo,) = trx.delivered
            assert mo.short_message == "Stop ✋".encode("utf-16-be")  # type: ignore[attr-defined]
            assert mo.data_coding == 8  # type: ignore[attr-defined]
            resp = await smsc.deliver_data_sm(
                system_id="other", source_addr="447700900402", destination_addr="88088", text="HELP"
            )
            assert (resp.command_id, resp.command_status) == (C.DATA_SM_RESP, S.ESME_ROK)
            (data,) = other.delivered
            assert isinstance(data, DataSm)
            assert find_tlv(data.tlvs, Tag.MESSAGE_PAYLOAD) == b"HELP"
            assert tx.delivered == []
            with pytest.raises(NoReceiverError):
                await smsc.deliver(system_id="nobody", source_addr="1", destination_addr="2", text="x")


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


# --- small pieces ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seq", "message_id"), [(1, "00000001"), (0x7FFFFFFF, "sim-" + "f" * 60)])
def test_fast_submit_sm_resp_matches_the_codec(seq: int, message_id: str) -> None:
    resp = submit_sm_resp(seq, message_id)
    plain = SubmitSmResp(sequence_number=seq, message_id=message_id)
    assert encode(resp) == encode_fields(resp) == encode_fields(plain)
    assert decode(encode(resp)) == resp


def test_format_receipt_and_parse_users() -> None:
    text = format_receipt("abc", 0.0, 60.0, "A message longer than twenty characters")
    assert text == (
        "id:abc sub:001 dlvrd:001 submit date:7001010000 done date:7001010001 stat:DELIVRD err:000"
        " text:A message longer tha"
    )
    assert parse_users("proxy:proxypw, other:pw:x") == {"proxy": "proxypw", "other": "pw:x"}
    assert parse_users("") is None
    with pytest.raises(ValueError):
        parse_users("nopassword")
