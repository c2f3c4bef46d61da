"""Hostile and malformed input on both legs of a real `stopgate run` process (issue #6).

Raw frames are written with our codec (tools/smpp_peer.py), then cut or corrupted by hand. Each case checks
the exact answer and that healthy sessions (on the same proxy, often on the same connection) carry on.
"""

from __future__ import annotations

import struct
from pathlib import Path

import anyio
import pytest

from gateway.smpp.codec import encode_fields
from gateway.smpp.constants import BindMode, CommandId, CommandStatus, Tag
from gateway.smpp.fields import Tlv
from gateway.smpp.pdu import (
    BindTransmitter,
    DeliverSm,
    EnquireLink,
    GenericNack,
    Pdu,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
)
from tests.live import account, live_stack
from tests.stack import merge
from tools.fuzz_session import fuzz_session
from tools.reliability import hold_idle_connections, proc_stats
from tools.smpp_peer import SmppPeer, connect_peer, running_listener

pytestmark = pytest.mark.anyio

S = CommandStatus
C = CommandId
NUMBER = "447700900401"
RELAY = account(traffic="transactional")


def frame(command_id: int, sequence: int, body: bytes = b"", *, length: int | None = None) -> bytes:
    """A raw PDU: header + body, command_length as given (default: the real length)."""
    real = 16 + len(body)
    return struct.pack(">IIII", real if length is None else length, command_id, 0, sequence) + body


def body_of(pdu: Pdu) -> bytes:
    return encode_fields(pdu, 1)[16:]


def submit_body(text: bytes = b"hello", tlvs: tuple[Tlv, ...] = ()) -> bytes:
    return body_of(
        SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=NUMBER, short_message=text, tlvs=tlvs)
    )


def deliver_body(text: bytes = b"hello") -> bytes:
    return body_of(
        DeliverSm(
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr=NUMBER,
            destination_addr="88088",
            short_message=text,
        )
    )


def malformed_bodies(make_body: type[SubmitSm] | type[DeliverSm]) -> list[tuple[str, bytes, int]]:
    """(case, body, expected status) for a submit_sm or deliver_sm body broken in the usual ways."""
    good = submit_body() if make_body is SubmitSm else deliver_body()
    assert good.endswith(b"\x05hello")
    cut = good.index(NUMBER.encode() if make_body is SubmitSm else b"88088") + 4
    sm_length_at = len(good) - 6
    return [
        ("C-string cut short (no NUL before the end)", good[:cut], S.ESME_RINVMSGLEN),
        (
            "sm_length 200 beyond the body",
            good[:sm_length_at] + b"\xc8" + good[sm_length_at + 1 :],
            S.ESME_RINVMSGLEN,
        ),
        ("TLV length runs past the body", good + struct.pack(">HH", 0x1400, 100) + b"abc", S.ESME_RINVPARLEN),
        ("TLV header cut short", good + b"\x14", S.ESME_RINVOPTPARSTREAM),
    ]


async def submit(esme: SmppPeer, text: bytes = b"hello") -> Pdu:
    return await esme.request(
        SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=NUMBER, short_message=text)
    )


# --- framing --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "data"),
    [
        ("length 8", frame(C.ENQUIRE_LINK, 7, length=8)),
        ("length 15", frame(C.ENQUIRE_LINK, 7, length=15)),
        ("length 65537 (header only)", frame(C.SUBMIT_SM, 7, length=65537)),
        ("length 0x7fffffff", frame(C.SUBMIT_SM, 7, length=0x7FFFFFFF)),
        ("length 0xffffffff", frame(C.SUBMIT_SM, 7, length=0xFFFFFFFF)),
    ],
)
async def test_command_length_out_of_range_gets_generic_nack_and_the_connection_closes(
    tmp_path: Path, case: str, data: bytes
) -> None:
    async with live_stack(tmp_path, RELAY) as live, connect_peer(live.port) as healthy:
        await healthy.bind("acme", "acmepw")
        for bound in (False, True):
            async with connect_peer(live.port) as esme:
                if bound:
                    await esme.bind("acme", "acmepw")
                await esme.send(data)
                nack = await esme.next_unsolicited(3)
                assert isinstance(nack, GenericNack), case
                assert (nack.command_status, nack.sequence_number) == (S.ESME_RINVCMDLEN, 7)
                await esme.wait_closed(3)  # framing is lost: nothing after it can be trusted
                assert esme.errors == []
        assert (await submit(healthy)).command_status == S.ESME_ROK  # other sessions carry on
        await live.smsc.wait_until(lambda: len(live.smsc.bound_sessions) == 1, 5)  # bound one unbound


async def test_a_64_kib_pdu_is_accepted_and_one_octet_more_is_not(tmp_path: Path) -> None:
    async with live_stack(tmp_path, RELAY) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        base = len(encode_fields(SubmitSm(destination_addr=NUMBER, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b""),)), 1))
        payload = b"x" * (65536 - base)
        big = SubmitSm(destination_addr=NUMBER, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, payload),))
        data = encode_fields(big, 41)
        assert len(data) == 65536
        resp = await esme.exchange(data, 41)
        assert (resp.command_id, resp.command_status) == (C.SUBMIT_SM_RESP, S.ESME_ROK)
        (received,) = await live.smsc.wait_for_submits(1)
        assert len(received.pdu.raw) == 65536
        too_big = frame(C.SUBMIT_SM, 42, data[16:] + b"y")
        await esme.send(too_big)
        nack = await esme.next_unsolicited(3)
        assert (nack.command_id, nack.command_status) == (C.GENERIC_NACK, S.ESME_RINVCMDLEN)
        await esme.wait_closed(3)


async def test_unknown_command_id_gets_generic_nack_invcmdid_and_the_session_continues(
    tmp_path: Path,
) -> None:
    async with live_stack(tmp_path, RELAY) as live, connect_peer(live.port) as esme:
        for bound in (False, True):
            for command_id, body in ((0x00000099, b""), (0x00000200, b"junk body"), (0x7FFFFFFF, b"")):
                resp = await esme.exchange(frame(command_id, 9, body), 9, 3)
                assert (resp.command_id, resp.command_status) == (C.GENERIC_NACK, S.ESME_RINVCMDID)
            assert (await esme.request(EnquireLink())).command_status == S.ESME_ROK
            if not bound:
                await esme.bind("acme", "acmepw")
        assert (await submit(esme)).command_status == S.ESME_ROK
        assert not esme.closed and esme.errors == []


# --- malformed bodies -----------------------------------------------------------------------------


async def test_malformed_submit_bodies_get_their_error_response_and_no_session_closes(tmp_path: Path) -> None:
    override = merge(RELAY, account(traffic="transactional"))
    async with (
        live_stack(tmp_path, override) as live,
        connect_peer(live.port) as esme,
        connect_peer(live.port) as other,
    ):
        await esme.bind("acme", "acmepw")
        await other.bind("other", "otherpw")
        cases = malformed_bodies(SubmitSm)
        cases.append(
            (
                "destination_addr of 25 digits",
                submit_body().replace(NUMBER.encode(), b"4" * 25),
                S.ESME_RINVDSTADR,
            )
        )
        for seq, (case, body, status) in enumerate(cases, start=100):
            resp = await esme.exchange(frame(C.SUBMIT_SM, seq, body), seq, 3)
            assert (resp.command_id, resp.command_status, resp.sequence_number) == (
                C.SUBMIT_SM_RESP,
                status,
                seq,
            ), case
            assert (await submit(other, b"meanwhile")).command_status == S.ESME_ROK, case
        assert (await submit(esme, b"still bound")).command_status == S.ESME_ROK
        assert not esme.closed and not other.closed
        assert sum(r.text.startswith("meanwhile") for r in live.smsc.received) == len(cases)
        assert live.smsc.submit_count == len(cases) + 1  # nothing malformed reached the SMSC


async def test_requests_out_of_bind_order_get_invbndsts(tmp_path: Path) -> None:
    async with live_stack(tmp_path, RELAY) as live:
        async with connect_peer(live.port) as esme:
            # Before any bind: only binds and enquire_link are allowed (§2.3).
            for pdu, response in (
                (SubmitSm(destination_addr=NUMBER, short_message=b"x"), C.SUBMIT_SM_RESP),
                (QuerySm(message_id="abc"), C.QUERY_SM_RESP),
                (DeliverSm(source_addr=NUMBER, short_message=b"x"), C.DELIVER_SM_RESP),
            ):
                resp = await esme.request(pdu)
                assert (resp.command_id, resp.command_status) == (response, S.ESME_RINVBNDSTS)
            resp = await esme.exchange(frame(C.UNBIND, 5), 5)
            assert (resp.command_id, resp.command_status) == (C.UNBIND_RESP, S.ESME_RINVBNDSTS)
            await esme.bind("acme", "acmepw")
            resp = await esme.request(BindTransmitter(system_id="acme", password="acmepw"))
            assert resp.command_status == S.ESME_RALYBND
            resp = await esme.request(DeliverSm(source_addr=NUMBER, short_message=b"x"))
            assert resp.command_status == S.ESME_RINVBNDSTS  # an ESME never sends deliver_sm
            await esme.send(GenericNack(sequence_number=4242))  # answers nothing: ignored
            assert (await submit(esme)).command_status == S.ESME_ROK
        async with connect_peer(live.port) as receiver:
            await receiver.bind("acme", "acmepw", BindMode.RECEIVER)
            assert (await submit(receiver)).command_status == S.ESME_RINVBNDSTS
        assert live.smsc.submit_count == 1


# --- the SMSC side --------------------------------------------------------------------------------


async def test_malformed_input_from_the_smsc_is_answered_there_and_never_reaches_the_esme(
    tmp_path: Path,
) -> None:
    async with (
        running_listener(accept_binds=True) as fake,
        live_stack(tmp_path, RELAY, upstream_port=fake.port) as live,
        connect_peer(live.port) as esme,
    ):
        await esme.bind("acme", "acmepw")
        smsc = await fake.next_peer()
        cases = malformed_bodies(DeliverSm)
        for seq, (case, body, status) in enumerate(cases, start=500):
            resp = await smsc.exchange(frame(C.DELIVER_SM, seq, body), seq, 3)
            assert (resp.command_id, resp.command_status) == (C.DELIVER_SM_RESP, status), case
        resp = await smsc.exchange(frame(0x00000099, 600), 600, 3)
        assert (resp.command_id, resp.command_status) == (C.GENERIC_NACK, S.ESME_RINVCMDID)
        resp = await smsc.exchange(frame(C.SUBMIT_SM, 601, submit_body()), 601, 3)  # not an SMSC's to send
        assert (resp.command_id, resp.command_status) == (C.SUBMIT_SM_RESP, S.ESME_RINVBNDSTS)
        await smsc.send(SubmitSmResp(sequence_number=4242, message_id="nobody-asked"))  # ignored
        assert (await smsc.request(EnquireLink())).command_status == S.ESME_ROK
        assert esme.requests == []  # the ESME saw none of it

        # A well-formed MO still goes through, and the ESME's answer goes back up.
        resp = await smsc.exchange(frame(C.DELIVER_SM, 700, deliver_body(b"hi there")), 700, 3)
        assert (resp.command_id, resp.command_status) == (C.DELIVER_SM_RESP, S.ESME_ROK)
        assert [p.short_message for p in esme.requests] == [b"hi there"]  # type: ignore[attr-defined]

        # A malformed submit_sm_resp still answers the ESME's submit (with an error), never silence.
        _, waiter = await esme.send_request(SubmitSm(destination_addr=NUMBER, short_message=b"x"))
        forwarded = await smsc.next_request(C.SUBMIT_SM)
        broken_resp = struct.pack(">IIII", 16 + 6, C.SUBMIT_SM_RESP, 0, forwarded.sequence_number) + b"abcdef"
        await smsc.send(broken_resp)
        answer = await esme.response(waiter)
        assert answer.command_status == S.ESME_RINVMSGLEN and not esme.closed

        # Framing lost on the upstream: the proxy nacks and drops it; the ESME's in-flight submit is
        # answered with an error and the ESME session is unbound.
        _, waiter = await esme.send_request(SubmitSm(destination_addr=NUMBER, short_message=b"y"))
        await smsc.next_request(C.SUBMIT_SM, start=len(smsc.requests) - 1)
        await smsc.send(frame(C.DELIVER_SM, 800, length=8))
        nack = await smsc.next_unsolicited(3)
        assert (nack.command_id, nack.command_status) == (C.GENERIC_NACK, S.ESME_RINVCMDLEN)
        await smsc.wait_closed(3)
        assert (await esme.response(waiter)).command_status == S.ESME_RSYSERR
        await esme.wait_closed(5)
        assert esme.unbound and esme.errors == [] and smsc.errors == []


async def test_a_generic_nack_answering_the_upstream_bind_is_a_failed_bind(tmp_path: Path) -> None:
    """Even with status 0: only a bind_*_resp with ESME_ROK binds (§4.1)."""

    def nack_binds(peer: SmppPeer, pdu: Pdu) -> bool:
        if pdu.command_id in (C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER):
            nacks.append(pdu.sequence_number)  # answered by the task below
            return True
        return False

    nacks: list[int] = []
    async with (
        running_listener(on_request=nack_binds) as fake,
        live_stack(tmp_path, RELAY, upstream_port=fake.port) as live,
        anyio.create_task_group() as tg,
    ):

        async def answer_with_nack() -> None:
            peer = await fake.next_peer()
            await peer.wait_until(lambda: nacks, 5)
            await peer.send(GenericNack(sequence_number=nacks[0], command_status=S.ESME_ROK))

        tg.start_soon(answer_with_nack)
        async with connect_peer(live.port) as esme:
            resp = await esme.bind("acme", "acmepw", check=False)
        assert resp.command_status != S.ESME_ROK
        assert "answered the bind with generic_nack" in live.log()


# --- slow and many clients ------------------------------------------------------------------------


async def trickle(esme: SmppPeer, data: bytes, interval: float) -> None:
    for i in range(len(data)):
        if esme.closed:
            return
        try:
            await esme.send(data[i : i + 1])
        except Exception:
            return
        await anyio.sleep(interval)


async def test_a_byte_per_second_client_is_dropped_by_the_incomplete_pdu_timeout(tmp_path: Path) -> None:
    override = merge(
        RELAY, {"session": {"incomplete_pdu_timeout": 2.0, "bind_timeout": 30.0, "inactivity_timeout": 60.0}}
    )
    async with live_stack(tmp_path, override) as live:
        closed_after: dict[str, float] = {}

        async def unbound_slow() -> None:
            async with connect_peer(live.port) as esme:
                started = anyio.current_time()
                async with anyio.create_task_group() as tg:
                    bind = frame(C.BIND_TRANSCEIVER, 1, b"acme\x00acmepw\x00\x00\x34\x00\x00\x00")
                    tg.start_soon(trickle, esme, bind, 1.0)
                    await esme.wait_closed(6)
                    tg.cancel_scope.cancel()
                closed_after["unbound"] = anyio.current_time() - started
                assert esme.requests == esme.unsolicited == []  # dropped without an answer

        async def bound_slow() -> None:
            async with connect_peer(live.port) as esme:
                await esme.bind("acme", "acmepw")
                started = anyio.current_time()
                async with anyio.create_task_group() as tg:
                    tg.start_soon(trickle, esme, frame(C.SUBMIT_SM, 2, submit_body()), 1.0)
                    await esme.wait_closed(6)
                    tg.cancel_scope.cancel()
                closed_after["bound"] = anyio.current_time() - started

        async def slow_but_whole() -> None:
            """Complete PDUs 1.5 s apart are not partial PDUs: this client stays."""
            async with connect_peer(live.port) as esme:
                await esme.bind("acme", "acmepw")
                for _ in range(3):
                    await anyio.sleep(1.5)
                    assert (await esme.request(EnquireLink())).command_status == S.ESME_ROK
                assert not esme.closed

        async with anyio.create_task_group() as tg:
            tg.start_soon(unbound_slow)
            tg.start_soon(bound_slow)
            tg.start_soon(slow_but_whole)
        assert 1.9 < closed_after["unbound"] < 4.0 and 1.9 < closed_after["bound"] < 4.0
        ended = '"reason": "incomplete PDU timed out", "event": "session ended"'
        assert live.log().count(ended) == 2
        await live.smsc.wait_until(lambda: live.smsc.counters["unbinds"] >= 2, 5)  # upstreams cleaned up


async def test_1000_connections_that_never_bind_are_held_in_bounded_memory_and_dropped(
    tmp_path: Path,
) -> None:
    bind_timeout = 2.0
    override = merge(RELAY, {"session": {"bind_timeout": bind_timeout}})
    async with live_stack(tmp_path, override) as live:
        result = await hold_idle_connections(live.pid, live.port, 1000)
        print(
            f"\n1000 idle connections: before {result.before}; held {result.held}; after {result.after}; "
            f"{result.kib_per_connection:.1f} KiB each; first dropped after "
            f"{result.first_dropped_after:.2f}s, all {result.all_dropped_after:.2f}s after the last opened"
        )
        assert result.closed_by_proxy == 1000
        assert result.first_dropped_after >= bind_timeout - 0.1  # not before the bind timeout...
        assert result.all_dropped_after < bind_timeout + 3.0  # ...and not long after it
        assert result.kib_per_connection < 100
        assert result.after.fds <= result.before.fds
        log = live.log()
        assert log.count("no bind in time") == 1000 and "inactivity timeout" not in log
        async with connect_peer(live.port) as esme:  # and it still serves
            await esme.bind("acme", "acmepw")
            assert (await submit(esme)).command_status == S.ESME_ROK


async def test_a_bind_arriving_half_a_second_after_the_connect_is_served(tmp_path: Path) -> None:
    """Regression: the idle clock started at 0, so a connection silent for one timer tick (0.1 s) was
    dropped as inactive; an ESME on a high-latency link could never bind."""
    async with live_stack(tmp_path, RELAY) as live, connect_peer(live.port) as esme:
        await anyio.sleep(0.5)
        await esme.bind("acme", "acmepw")
        assert (await submit(esme)).command_status == S.ESME_ROK
        assert "inactivity timeout" not in live.log()


async def test_connections_reset_before_they_are_served_never_stop_the_proxy(tmp_path: Path) -> None:
    """Regression: with uvloop (what `make install` sets up), a client that connected and reset at once
    made reading its address raise in the accept handler, which stopped the whole proxy."""

    async def connect_and_reset() -> None:
        async with connect_peer(live.port) as esme:
            await esme.abort()

    async with live_stack(tmp_path, RELAY) as live:
        for _ in range(10):
            async with anyio.create_task_group() as tg:
                for _ in range(20):
                    tg.start_soon(connect_and_reset)
        async with connect_peer(live.port) as esme:
            await esme.bind("acme", "acmepw")
            assert (await submit(esme)).command_status == S.ESME_ROK
        assert live.alive and "internal error" not in live.log()


async def test_connections_over_max_connections_are_refused_at_once(tmp_path: Path) -> None:
    async with live_stack(tmp_path, merge(RELAY, {"session": {"max_connections": 20}})) as live:
        streams = [await anyio.connect_tcp("127.0.0.1", live.port) for _ in range(20)]
        await anyio.sleep(0)
        with anyio.fail_after(5):
            while proc_stats(live.pid).fds < 20:
                await anyio.sleep(0.02)
        extra = await anyio.connect_tcp("127.0.0.1", live.port)
        with anyio.fail_after(3), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
            await extra.receive()
        for stream in [*streams, extra]:
            await stream.aclose()
        assert "connection limit reached" in live.log()


# --- session-level fuzzing ------------------------------------------------------------------------


async def test_session_level_fuzz_against_the_running_proxy(tmp_path: Path) -> None:
    """A bounded run of tools/fuzz_session.py (``python -m tools.fuzz_session --count 100000`` for more)."""
    async with live_stack(tmp_path, {"account": [{**account()["account"][0], "max_sessions": 100}]}) as live:
        before = proc_stats(live.pid)
        report = await fuzz_session(live.port, 2000, seed=20250411)
        assert report.garbage == [] and report.hangs == []
        assert report.healthy_after and live.alive
        assert report.count == 2000 and report.connections > 10
        assert "internal error" not in live.log()
        after = proc_stats(live.pid)
        assert after.fds <= before.fds + 2


async def test_a_footer_never_pushes_a_relayed_pdu_over_the_size_limit(tmp_path: Path) -> None:
    """Found by the session fuzzer: a legal 64 KiB submit_sm plus the opt-out footer became a 65,558-octet
    PDU that the SMSC took for lost framing, dropping the upstream session. It is refused instead."""
    async with live_stack(tmp_path) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")  # marketing: footers are added
        base = len(encode_fields(SubmitSm(destination_addr=NUMBER, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b""),)), 1))
        big = SubmitSm(destination_addr=NUMBER, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"x" * (65536 - base)),))
        resp = await esme.exchange(encode_fields(big, 51), 51)
        assert (resp.command_id, resp.command_status) == (C.SUBMIT_SM_RESP, S.ESME_RINVMSGLEN)
        assert (await submit(esme)).command_status == S.ESME_ROK  # the upstream session is intact
        assert live.smsc.counters["connections"] == 1 and "framing lost" not in live.log()


def test_the_core_refuses_to_send_a_pdu_over_its_own_size_limit() -> None:
    from gateway.smpp.codec import decode
    from gateway.smpp.connection import Connection
    from gateway.smpp.errors import PduTooLarge
    from gateway.smpp.pdu import BindTransceiver, BindTransceiverResp
    from gateway.smpp.states import Role, State

    conn = Connection(Role.ESME, max_pdu_size=1024)
    seq = conn.send_request(BindTransceiver(system_id="esme"), 0.0)
    conn.receive_data(encode_fields(BindTransceiverResp(system_id="smsc"), seq), 0.0)
    assert [type(e).__name__ for e in conn.events()] == ["Response"]
    assert conn.state is State.BOUND_TRX
    conn.data_to_send()
    too_big = SubmitSm(destination_addr=NUMBER, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"x" * 1000),))
    with pytest.raises(PduTooLarge):
        conn.send_request(too_big, 0.0)
    with pytest.raises(PduTooLarge):  # the original bytes of a relayed PDU are checked too
        conn.send_request(decode(encode_fields(too_big, 9)), 0.0)
    assert conn.data_to_send() == b"" and conn.outstanding == 0  # nothing queued, nothing awaited
    fits = SubmitSm(destination_addr=NUMBER, tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"x" * 900),))
    conn.send_request(fits, 0.0)
    assert len(conn.data_to_send()) <= 1024 and conn.outstanding == 1


async def test_peer_chosen_status_values_cannot_grow_the_metrics(tmp_path: Path) -> None:
    """Found by the session fuzzer: every distinct command_status a peer sent became a new
    stopgate_pdus series (memory in the proxy, cardinality in Prometheus)."""
    import random

    from gateway.smpp.pdu import DeliverSmResp

    rng = random.Random(7)
    async with live_stack(tmp_path, RELAY, admin=True) as live, connect_peer(live.port) as esme:
        await esme.bind("acme", "acmepw")
        for i in range(300):
            status = rng.getrandbits(32)
            await esme.send(DeliverSmResp(sequence_number=10_000 + i, command_status=status))  # unsolicited
            await esme.send(frame(C.ENQUIRE_LINK, 20_000 + i)[:8] + struct.pack(">II", status, 20_000 + i))
        assert (await esme.request(EnquireLink())).command_status == S.ESME_ROK
        text = (await live.admin("/metrics")).text
        series = [line for line in text.splitlines() if line.startswith("stopgate_pdus_total{")]
        assert len(series) < 20, series
        assert 'command="deliver_sm_resp",direction="in",leg="esme",status="other"} 300.0' in text
        assert 'command="enquire_link",direction="in",leg="esme",status="other"} 300.0' in text
