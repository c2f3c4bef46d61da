"""The link adapter over real loopback sockets: protocol mode (bytes handled in the transport's
callbacks), what it does with bytes that came before it, a peer that does not read, the end of the
stream, and a failing handler."""

from __future__ import annotations

import socket
import struct
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

from gateway.metrics import OTHER_STATUS, PduCounts
from gateway.proxy import link as link_module
from gateway.proxy.link import Link
from gateway.smpp.codec import decode, encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.events import Request
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import BindTransceiver, EnquireLink, SubmitSm, SubmitSmResp
from gateway.smpp.states import Role, State

pytestmark = pytest.mark.anyio

ENQUIRE_LINK = struct.Struct(">IIII")


def enquire_links(first: int, count: int) -> bytes:
    pack = ENQUIRE_LINK.pack
    return b"".join(pack(16, CommandId.ENQUIRE_LINK, 0, seq) for seq in range(first, first + count))


class Served:
    """The server side: one Link per accepted connection, kept for the test to look at."""

    def __init__(self) -> None:
        self.links: list[Link] = []
        self.ended: list[BaseException | str] = []
        self.linked = anyio.Event()
        self.counts = PduCounts()

    def handled(self) -> int:
        return self.counts.get(("test", "in", CommandId.ENQUIRE_LINK, 0))


@asynccontextmanager
async def serving(
    *,
    delay: float = 0.0,
    handler: Callable[[Link, object], None] = lambda link, event: None,
    sndbuf: int = 0,
) -> AsyncIterator[tuple[Served, int]]:
    served = Served()

    async def on_connection(stream: anyio.abc.SocketStream) -> None:
        if sndbuf:
            stream.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf
            )
        await anyio.sleep(delay)  # bytes the peer sends meanwhile wait in anyio's protocol
        link = Link(stream, Connection(Role.SMSC), name="test", pdu_counts=served.counts)
        served.links.append(link)
        served.linked.set()
        try:
            await link.run(handler)  # type: ignore[arg-type]
            served.ended.append(link.close_reason)
        except BaseException as exc:
            served.ended.append(exc)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, on_connection)
        yield served, port
        tg.cancel_scope.cancel()


async def read_exactly(stream: anyio.abc.ByteStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += await stream.receive(size - len(data))
    return bytes(data)


def sequences(responses: bytes) -> list[int]:
    return [ENQUIRE_LINK.unpack_from(responses, pos)[3] for pos in range(0, len(responses), 16)]


async def test_plain_tcp_links_take_the_transport_over() -> None:
    async with serving() as (served, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        await client.send(enquire_links(1, 3))
        responses = await read_exactly(client, 48)
        assert sequences(responses) == [1, 2, 3]
        assert type(served.links[0]._transport.get_protocol()) is link_module._LinkProtocol


async def test_bytes_received_before_the_link_started_are_handled_first() -> None:
    async with serving(delay=0.3) as (_, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        await client.send(enquire_links(1, 2))  # arrives while the server is not reading yet
        await anyio.sleep(0.1)
        await client.send(enquire_links(3, 2))
        with anyio.fail_after(5):
            responses = await read_exactly(client, 64)
        assert sequences(responses) == [1, 2, 3, 4]


async def test_a_peer_that_does_not_read_stops_the_link_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers queue up to HIGH_WATER, then the link reads no more (TCP holds the rest); once the
    peer reads, every request is answered, in order."""
    high_water = 32 * 1024
    monkeypatch.setattr(link_module, "HIGH_WATER", high_water)
    count = 40_000  # 640 KB of answers: far more than HIGH_WATER and the small socket buffers
    async with serving(sndbuf=8192) as (served, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        raw = client.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.send, enquire_links(1, count))  # blocks once the server stops reading
            await served.linked.wait()
            link = served.links[0]

            def queued() -> int:
                return link.conn.bytes_to_send + int(link._transport.get_write_buffer_size())

            with anyio.fail_after(10):
                while queued() <= high_water:
                    await anyio.sleep(0.01)
            assert queued() <= high_water + link_module.SLICE * 16  # stopped at the first slice over
            handled = served.handled()
            await anyio.sleep(0.3)  # were it still reading, it would keep answering
            assert link._reading_paused
            assert served.handled() == handled < count // 2
            assert link.conn.pending_octets < 16 * count  # the rest is still in TCP's buffers
            with anyio.fail_after(30):
                responses = await read_exactly(client, 16 * count)
        assert sequences(responses) == list(range(1, count + 1))
        assert not link._reading_paused


async def test_the_end_of_the_stream_ends_the_link() -> None:
    async with serving() as (served, port):
        async with await anyio.connect_tcp("127.0.0.1", port) as client:
            await client.send(enquire_links(1, 1))
            await read_exactly(client, 16)
        with anyio.fail_after(5):
            while not served.ended:
                await anyio.sleep(0.01)
        assert served.ended == ["peer closed the connection"]
        assert served.links[0].closed


async def test_a_handler_that_fails_ends_the_link_with_its_error() -> None:
    def handler(link: Link, event: object) -> None:
        if isinstance(event, Request):
            raise RuntimeError("policy bug")

    async with serving(handler=handler) as (served, port), await anyio.connect_tcp("127.0.0.1", port) as c:
        await c.send(encode_fields(BindTransceiver(system_id="esme", password="pw"), 1))
        with anyio.fail_after(5):
            while not served.ended:
                await anyio.sleep(0.01)
    (ended,) = served.ended
    errors = ended.exceptions if isinstance(ended, BaseExceptionGroup) else (ended,)
    assert [str(e) for e in errors] == ["policy bug"]


async def test_requests_of_our_own_still_get_their_answers() -> None:
    """The proxy's own requests (awaited with Link.request) work the same in protocol mode."""
    async with serving() as (served, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        await served.linked.wait()

        async def answer() -> None:
            request = await read_exactly(client, 16)
            seq = ENQUIRE_LINK.unpack(request)[3]
            await client.send(ENQUIRE_LINK.pack(16, CommandId.ENQUIRE_LINK_RESP, 0, seq))

        async with anyio.create_task_group() as tg:
            tg.start_soon(answer)
            with anyio.fail_after(5):
                response = await served.links[0].request(EnquireLink(), 5)
        assert response.command_id == CommandId.ENQUIRE_LINK_RESP


def test_pdu_counts_add_up_live_and_ended_links() -> None:
    counts = PduCounts()
    esme, upstream = counts.for_link("esme"), counts.for_link("upstream:a")
    C = CommandId
    esme.received[C.SUBMIT_SM] += 2  # what a link does per PDU of status 0
    upstream.sent[C.SUBMIT_SM] += 2
    upstream.add("in", C.SUBMIT_SM_RESP, 0)
    upstream.add("in", C.SUBMIT_SM_RESP, 0x58)  # ESME_RTHROTTLED
    upstream.add("in", C.SUBMIT_SM_RESP, 0x12345678)  # no response carries that: "other"
    esme.add("in", C.SUBMIT_SM, 5)  # a request with a status: "other"
    expected = {
        ("esme", "in", C.SUBMIT_SM, 0): 2,
        ("esme", "in", C.SUBMIT_SM, OTHER_STATUS): 1,
        ("upstream:a", "out", C.SUBMIT_SM, 0): 2,
        ("upstream:a", "in", C.SUBMIT_SM_RESP, 0): 1,
        ("upstream:a", "in", C.SUBMIT_SM_RESP, 0x58): 1,
        ("upstream:a", "in", C.SUBMIT_SM_RESP, OTHER_STATUS): 1,
    }
    assert counts.snapshot() == expected
    upstream.close()
    upstream.close()  # once only
    assert counts.snapshot() == expected
    again = counts.for_link("upstream:a")  # the next connection to the same SMSC
    again.sent[C.SUBMIT_SM] += 1
    assert counts.get(("upstream:a", "out", C.SUBMIT_SM, 0)) == 3


async def test_answers_relayed_together_are_counted_one_by_one_on_both_legs() -> None:
    """A window's answers come as one Relayed event: each frame still counts as one PDU in on the
    upstream leg and one out on the ESME leg, by status, and leaves under the ESME's own number."""
    counts = PduCounts()
    smsc_side = Link(None, Connection(Role.ESME), name="upstream:a", pdu_counts=counts)  # type: ignore[arg-type]
    esme_side = Link(None, Connection(Role.SMSC), name="esme", pdu_counts=counts)  # type: ignore[arg-type]
    smsc_side.conn.state = esme_side.conn.state = State.BOUND_TRX
    esme_numbers = [501, 502, 503, 504]
    ours = [
        smsc_side.conn.send_request(SubmitSm(destination_addr="1"), 0.0, number, relay=True)
        for number in esme_numbers
    ]
    smsc_side.conn.data_to_send()
    statuses = [0, 0, 0, CommandStatus.ESME_RTHROTTLED]
    smsc_side.conn.receive_data(
        b"".join(
            encode_fields(SubmitSmResp(command_status=status, message_id="" if status else f"m{seq}"), seq)
            for seq, status in zip(ours, statuses, strict=True)
        ),
        0.0,
    )
    events: list[object] = []

    def relay(link: Link, event: object) -> None:
        events.append(event)
        esme_side.relay_responses(event)  # type: ignore[arg-type]

    smsc_side._handler = relay
    assert smsc_side._dispatch() == 2  # the three OK answers, then the throttled one
    assert [len(e.frames) for e in events] == [3, 1]  # type: ignore[attr-defined]
    C = CommandId
    assert counts.snapshot() == {
        ("upstream:a", "in", C.SUBMIT_SM_RESP, 0): 3,
        ("upstream:a", "in", C.SUBMIT_SM_RESP, CommandStatus.ESME_RTHROTTLED): 1,
        ("esme", "out", C.SUBMIT_SM_RESP, 0): 3,
        ("esme", "out", C.SUBMIT_SM_RESP, CommandStatus.ESME_RTHROTTLED): 1,
    }
    sent = FrameBuffer()
    sent.feed(esme_side.conn.data_to_send())
    assert [decode(frame).sequence_number for frame in sent.frames()] == esme_numbers
