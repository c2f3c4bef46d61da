"""The simulated SMSC (tools/smsc_sim/): binds, submits, receipts and MO, driven by smpplib and by our own
Link as the ESME."""

from __future__ import annotations

import functools
import threading
from typing import Any

import anyio
import pytest
import smpplib.client
import smpplib.consts
import smpplib.exceptions

from gateway.smpp.codec import decode, encode, encode_fields
from gateway.smpp.constants import BindMode, CommandId, CommandStatus, EsmClass, MessageState, Tag
from gateway.smpp.fields import Dest, Tlv, find_tlv
from gateway.smpp.pdu import CancelSm, DataSm, QuerySm, ReplaceSm, SubmitMulti, SubmitSmResp
from tests.smsc_sim_esme import RECEIPT_RE, USERS, link_esme, smpplib_bind_status, smpplib_client
from tools.smsc_sim import NoReceiverError, format_receipt, parse_users, running_smsc, submit_sm_resp


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


pytestmark = pytest.mark.anyio

C = CommandId
S = CommandStatus


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
