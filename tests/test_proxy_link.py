"""The link over real loopback sockets: plain TCP carried by an asyncio protocol (bytes handled in the
transport's callbacks), what it does with bytes that came before it, a peer that does not read, the end
of the connection, a failing handler; an anyio stream carrying a link; timers armed from deadlines."""

from __future__ import annotations

import math
import socket
import struct
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

import anyio
import anyio.abc
import pytest

from gateway.metrics import OTHER_STATUS, PduCounts
from gateway.proxy import link_io
from gateway.proxy.link import Expired, Link, LinkTimers
from gateway.proxy.link_deadlines import Due, due, next_deadline
from gateway.proxy.link_tcp import TcpCarrier, open_tcp_connection, start_tcp_server
from gateway.smpp.codec import decode, encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.events import Request
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import BindTransceiver, EnquireLink, SubmitSm, SubmitSmResp
from gateway.smpp.states import Role, State

pytestmark = pytest.mark.anyio


@pytest.fixture(
    params=[
        pytest.param(("asyncio", {}), id="asyncio"),
        pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop"),
    ]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, object]]:
    """Both event loops the proxy runs on: `stopgate run` uses uvloop when it is installed."""
    return request.param  # type: ignore[no-any-return]


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
    timers: LinkTimers | None = None,
) -> AsyncIterator[tuple[Served, int]]:
    served = Served()

    async def serve_link(carrier: TcpCarrier) -> None:
        if sndbuf:
            carrier.extra(anyio.abc.SocketAttribute.raw_socket).setsockopt(
                socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf
            )
        await anyio.sleep(delay)  # bytes the peer sends meanwhile wait in the kernel
        link = Link(carrier, Connection(Role.SMSC), name="test", pdu_counts=served.counts, timers=timers)
        served.links.append(link)
        served.linked.set()
        try:
            await link.run(handler)  # type: ignore[arg-type]
            served.ended.append(link.close_reason)
        except BaseException as exc:
            served.ended.append(exc)

    async with anyio.create_task_group() as tg:
        servers = await start_tcp_server("127.0.0.1", 0, lambda carrier: tg.start_soon(serve_link, carrier))
        try:
            yield served, servers[0].sockets[0].getsockname()[1]
        finally:
            for server in servers:
                server.close()
            tg.cancel_scope.cancel()


async def read_exactly(stream: anyio.abc.ByteStream, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        data += await stream.receive(size - len(data))
    return bytes(data)


def sequences(responses: bytes) -> list[int]:
    return [ENQUIRE_LINK.unpack_from(responses, pos)[3] for pos in range(0, len(responses), 16)]


async def test_plain_tcp_links_are_carried_by_the_protocol() -> None:
    async with serving() as (served, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        await client.send(enquire_links(1, 3))
        responses = await read_exactly(client, 48)
        assert sequences(responses) == [1, 2, 3]
        stream = served.links[0].stream
        assert type(stream) is TcpCarrier
        assert stream.extra(anyio.abc.SocketAttribute.remote_address)[0] == "127.0.0.1"


async def test_bytes_received_before_the_link_started_are_handled_first() -> None:
    async with serving(delay=0.3) as (_, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        await client.send(enquire_links(1, 2))  # arrives while the server is not reading yet
        await anyio.sleep(0.1)
        await client.send(enquire_links(3, 2))
        with anyio.fail_after(5):
            responses = await read_exactly(client, 64)
        assert sequences(responses) == [1, 2, 3, 4]


async def test_a_peer_that_does_not_read_stops_the_link_reading(monkeypatch: pytest.MonkeyPatch) -> None:
    """Answers queue up to HIGH_WATER (the transport then pauses writing), then the link reads no
    more (TCP holds the rest); once the peer reads, every request is answered, in order."""
    high_water = 32 * 1024
    monkeypatch.setattr(link_io, "HIGH_WATER", high_water)
    count = 40_000  # 640 KB of answers: far more than HIGH_WATER and the small socket buffers
    async with serving(sndbuf=8192) as (served, port), await anyio.connect_tcp("127.0.0.1", port) as client:
        raw = client.extra(anyio.abc.SocketAttribute.raw_socket)
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
        async with anyio.create_task_group() as tg:
            tg.start_soon(client.send, enquire_links(1, count))  # blocks once the server stops reading
            await served.linked.wait()
            link = served.links[0]
            carrier = link.stream
            assert isinstance(carrier, TcpCarrier)

            with anyio.fail_after(10):
                while True:  # until it stops answering (were it still reading, it would go on)
                    handled = served.handled()
                    await anyio.sleep(0.3)
                    if handled and served.handled() == handled:
                        break
            assert carrier.reading_paused
            assert handled < count // 2
            assert link.conn.pending_octets < 16 * count  # the rest is still in TCP's buffers
            with anyio.fail_after(30):
                responses = await read_exactly(client, 16 * count)
        assert sequences(responses) == list(range(1, count + 1))
        assert not carrier.reading_paused


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
    """The proxy's own requests (awaited with Link.request) work the same over the protocol."""
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


async def test_a_link_over_an_anyio_stream_answers_and_ends_with_it() -> None:
    """TLS and wrapped streams: the link reads and writes the stream with tasks."""
    ended: list[str] = []

    async def on_connection(stream: anyio.abc.SocketStream) -> None:
        link = Link(stream, Connection(Role.SMSC), name="stream")
        await link.run(lambda link, event: None)
        ended.append(link.close_reason)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, on_connection)
        async with await anyio.connect_tcp("127.0.0.1", port) as client:
            await client.send(enquire_links(1, 3))
            with anyio.fail_after(5):
                assert sequences(await read_exactly(client, 48)) == [1, 2, 3]
        with anyio.fail_after(5):
            while not ended:
                await anyio.sleep(0.01)
        tg.cancel_scope.cancel()
    assert ended == ["peer closed the connection"]


async def test_a_silent_peer_on_an_anyio_stream_hits_the_inactivity_limit() -> None:
    ended: list[str] = []
    timers = LinkTimers(enquire_link_interval=0, inactivity_timeout=0.3, incomplete_pdu_timeout=0)

    async def on_connection(stream: anyio.abc.SocketStream) -> None:
        link = Link(stream, Connection(Role.SMSC), name="stream", timers=timers)
        await link.run(lambda link, event: None)
        ended.append(link.close_reason)

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = listener.extra(anyio.abc.SocketAttribute.local_port)
    async with anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, on_connection)
        async with await anyio.connect_tcp("127.0.0.1", port) as client:
            with anyio.fail_after(5):
                while not ended:
                    await anyio.sleep(0.01)
            with anyio.fail_after(5), pytest.raises((anyio.EndOfStream, anyio.BrokenResourceError)):
                await client.receive()
        tg.cancel_scope.cancel()
    assert ended == ["inactivity timeout"]


# --- timers ----------------------------------------------------------------------------------------


LIMITS = LinkTimers(enquire_link_interval=30.0, inactivity_timeout=120.0, incomplete_pdu_timeout=10.0)


@pytest.mark.parametrize(
    ("now", "partial_since", "bound", "expected"),
    [
        (100.0, None, True, Due.NOTHING),
        (130.0, None, True, Due.ENQUIRE_LINK),  # 30 s since anything was received or sent
        (130.0, None, False, Due.NOTHING),  # no enquire_link before the bind
        (125.0, 115.0, True, Due.INCOMPLETE_PDU),
        (220.0, None, True, Due.INACTIVE),
    ],
)
def test_what_a_link_clock_calls_for(
    now: float, partial_since: float | None, bound: bool, expected: Due
) -> None:
    assert (
        due(LIMITS, now, last_received=100.0, last_sent=90.0, partial_since=partial_since, bound=bound)
        is expected
    )


def test_the_next_deadline_is_the_earliest_limit() -> None:
    def deadline(now: float = 100.0, **kwargs: object) -> float:
        args: dict[str, object] = {"last_received": 100.0, "last_sent": 90.0, "partial_since": None}
        args["bound"] = True
        args.update(kwargs)
        return next_deadline(LIMITS, now, **args)  # type: ignore[arg-type]

    assert deadline() == 130.0  # enquire_link, 30 s after the last octet received
    assert deadline(partial_since=101.0) == 111.0
    assert deadline(last_sent=105.0) == 135.0
    # Unbound and already past the interval: looked at again an interval later, not in a busy loop.
    assert deadline(now=140.0, bound=False) == 170.0
    assert (
        next_deadline(
            LinkTimers(0, 0, 0), 1.0, last_received=0.0, last_sent=0.0, partial_since=None, bound=True
        )
        == math.inf
    )


async def test_a_relayed_request_expires_at_its_deadline() -> None:
    """The response timeout fires from its deadline (no tick): an unanswered request is Expired."""
    events: list[tuple[object, float]] = []
    silent: list[TcpCarrier] = []  # a peer that accepts and never reads

    def handler(link: Link, event: object) -> None:
        events.append((event, time.monotonic()))

    servers = await start_tcp_server("127.0.0.1", 0, silent.append)
    try:
        port = servers[0].sockets[0].getsockname()[1]
        carrier = await open_tcp_connection("127.0.0.1", port)
        link = Link(
            carrier, Connection(Role.ESME, response_timeout=0.3), name="client", timers=LinkTimers(0, 0, 0)
        )
        link.conn.state = State.BOUND_TRX
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run, handler)
            sent = time.monotonic()
            link.send_nowait(SubmitSm(destination_addr="1"), "relayed")
            with anyio.fail_after(5):
                while not events:
                    await anyio.sleep(0.01)
            await link.close()
    finally:
        for server in servers:
            server.close()
        for peer in silent:
            await peer.aclose()
    ((event, at),) = events
    assert isinstance(event, Expired) and event.outstanding.context == "relayed"
    assert 0.25 <= at - sent < 2.0


async def test_wait_answered_wakes_on_the_last_answer() -> None:
    async with serving() as (_, port):
        carrier = await open_tcp_connection("127.0.0.1", port)
        link = Link(carrier, Connection(Role.ESME), name="client", timers=LinkTimers(0, 0, 0))
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run, lambda link, event: None)
            await link.wait_answered(10)  # nothing outstanding: at once
            link.send_nowait(EnquireLink())  # answered by the served link
            with anyio.fail_after(5):
                await link.wait_answered(10)
            assert not link.conn.outstanding
            await link.close()


async def test_an_idle_bound_link_sends_enquire_link_and_an_inactive_one_closes() -> None:
    timers = LinkTimers(enquire_link_interval=0.2, inactivity_timeout=0.0, incomplete_pdu_timeout=0.0)
    async with serving(timers=LinkTimers(0, inactivity_timeout=0.6, incomplete_pdu_timeout=0)) as (
        served,
        port,
    ):
        carrier = await open_tcp_connection("127.0.0.1", port)
        link = Link(carrier, Connection(Role.ESME), name="client", timers=timers)
        link.conn.state = State.BOUND_TRX
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run, lambda link, event: None)
            await served.linked.wait()
            await anyio.sleep(0.7)
            # The server saw the keep-alives (so it was never idle for its 0.6 s) and answered them.
            assert served.handled() >= 2
            assert not served.ended
            link.timers.enquire_link_interval = 0  # now silent: the server's inactivity limit ends it
            with anyio.fail_after(5):
                while not served.ended:
                    await anyio.sleep(0.01)
            assert served.ended == ["inactivity timeout"]
            await link.close()


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
