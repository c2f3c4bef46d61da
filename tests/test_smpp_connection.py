"""The SMPP session state machine, driven through an h11-style ConnectionPair (an ESME-role and an
SMSC-role Connection wired back to back) and with raw bytes for what a correct peer would never send."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from gateway.smpp.codec import decode, encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.constants import MAX_SEQUENCE, BindMode, CommandId, CommandStatus
from gateway.smpp.errors import LocalProtocolError
from gateway.smpp.events import Event, Rejected, Relayed, Request, Response, UnexpectedResponse
from gateway.smpp.pdu import (
    BIND_CLASSES,
    BindReceiverResp,
    BindTransceiver,
    BindTransmitter,
    BindTransmitterResp,
    DataSm,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
    make_response,
)
from gateway.smpp.states import OWN_REQUESTS, PEER_REQUESTS, Role, State

RINVMSGLEN = CommandStatus.ESME_RINVMSGLEN
RINVCMDLEN = CommandStatus.ESME_RINVCMDLEN
BOUND = {
    BindMode.TRANSMITTER: State.BOUND_TX,
    BindMode.RECEIVER: State.BOUND_RX,
    BindMode.TRANSCEIVER: State.BOUND_TRX,
}


class ConnectionPair:
    """Two cores back to back: what one queues is fed to the other (h11's test helper)."""

    def __init__(self, **kwargs: Any) -> None:
        self.esme = Connection(Role.ESME, **kwargs)
        self.smsc = Connection(Role.SMSC, **kwargs)
        self.now = 0.0

    def peer(self, conn: Connection) -> Connection:
        return self.smsc if conn is self.esme else self.esme

    def deliver(self, sender: Connection) -> list[Event]:
        """Move everything ``sender`` queued to its peer; the peer's events."""
        receiver = self.peer(sender)
        receiver.receive_data(sender.data_to_send(), self.now)
        return list(receiver.events())

    def request(self, sender: Connection, pdu: Pdu, context: object = None) -> tuple[int, list[Event]]:
        seq = sender.send_request(pdu, self.now, context)
        return seq, self.deliver(sender)

    def respond(self, sender: Connection, pdu: Pdu) -> list[Event]:
        sender.send_response(pdu)
        return self.deliver(sender)

    def bind(self, mode: BindMode = BindMode.TRANSCEIVER) -> None:
        _, events = self.request(self.esme, BIND_CLASSES[mode](system_id="esme", password="pw"))
        (event,) = events
        assert isinstance(event, Request)
        (answer,) = self.respond(self.smsc, make_response(event.pdu, system_id="SMSC"))
        assert isinstance(answer, Response)
        assert self.esme.state is self.smsc.state is BOUND[mode]


def raw(conn: Connection, *pdus: Pdu | bytes) -> list[Event]:
    """Feed frames to ``conn`` as if the peer sent them; the resulting events."""
    conn.receive_data(b"".join(p if isinstance(p, bytes) else encode_fields(p) for p in pdus), 0.0)
    return list(conn.events())


def sent(conn: Connection) -> list[Pdu]:
    """Decode everything ``conn`` queued."""
    data = conn.data_to_send()
    out = []
    while data:
        length = int.from_bytes(data[:4], "big")
        out.append(decode(data[:length]))
        data = data[length:]
    return out


# --- binding --------------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(BindMode))
def test_bind_flow(mode: BindMode) -> None:
    pair = ConnectionPair()
    bind = BIND_CLASSES[mode](system_id="esme", password="pw", system_type="VMS")
    seq, events = pair.request(pair.esme, bind, context="bind")
    assert seq == 1
    assert events == [Request(BIND_CLASSES[mode](sequence_number=1, system_id="esme", password="pw",
                                                 system_type="VMS"))]
    assert pair.esme.state is State.OPEN  # not bound until the answer
    assert pair.smsc.state is State.OPEN
    assert pair.esme.outstanding == 1

    (request,) = events
    assert isinstance(request, Request)
    events = pair.respond(pair.smsc, make_response(request.pdu, system_id="SMSC"))
    assert pair.smsc.state is BOUND[mode]
    assert pair.smsc.bind_mode is mode
    (event,) = events
    assert isinstance(event, Response)
    assert event.request_id == CommandId(mode)
    assert event.context == "bind"
    assert event.pdu.command_id == CommandId(mode).response_id
    assert event.pdu.system_id == "SMSC"  # type: ignore[attr-defined]
    assert pair.esme.state is BOUND[mode]
    assert pair.esme.bind_mode is mode
    assert pair.esme.outstanding == 0


def test_failed_bind_stays_open() -> None:
    pair = ConnectionPair()
    _, (event,) = pair.request(pair.esme, BindTransmitter(system_id="esme", password="wrong"))
    assert isinstance(event, Request)
    (answer,) = pair.respond(pair.smsc, make_response(event.pdu, CommandStatus.ESME_RINVPASWD))
    assert isinstance(answer, Response)
    assert answer.pdu.command_status == CommandStatus.ESME_RINVPASWD
    assert pair.esme.state is pair.smsc.state is State.OPEN
    assert pair.esme.bind_mode is pair.smsc.bind_mode is None


def test_generic_nack_answers_a_bind() -> None:
    pair = ConnectionPair()
    seq, _ = pair.request(pair.esme, BindTransmitter(system_id="esme"))
    nack = GenericNack(sequence_number=seq, command_status=CommandStatus.ESME_RSYSERR)
    events = pair.respond(pair.smsc, nack)
    assert events == [Response(nack, CommandId.BIND_TRANSMITTER, None)]
    assert pair.esme.state is State.OPEN


def test_submit_before_bind_is_answered_by_the_core() -> None:
    pair = ConnectionPair()
    with pytest.raises(LocalProtocolError):
        pair.esme.send_request(SubmitSm(destination_addr="447700900123"), 0.0)
    (event,) = raw(pair.smsc, SubmitSm(sequence_number=5, destination_addr="447700900123"))
    assert isinstance(event, Rejected)
    assert event.error.status == CommandStatus.ESME_RINVBNDSTS
    assert (event.error.command_id, event.error.sequence_number) == (CommandId.SUBMIT_SM, 5)
    assert sent(pair.smsc) == [SubmitSmResp(sequence_number=5, command_status=CommandStatus.ESME_RINVBNDSTS)]
    assert pair.smsc.state is State.OPEN


def test_enquire_link_allowed_before_bind() -> None:
    pair = ConnectionPair()
    seq, (event,) = pair.request(pair.esme, EnquireLink())
    assert event == Request(EnquireLink(sequence_number=seq))
    (answer,) = pair.respond(pair.smsc, EnquireLinkResp(sequence_number=seq))
    assert answer == Response(EnquireLinkResp(sequence_number=seq), CommandId.ENQUIRE_LINK, None)


@pytest.mark.parametrize("mode", list(BindMode))
def test_second_bind_is_already_bound(mode: BindMode) -> None:
    pair = ConnectionPair()
    pair.bind(mode)
    with pytest.raises(LocalProtocolError):
        pair.esme.send_request(BindTransmitter(system_id="again"), 0.0)
    (event,) = raw(pair.smsc, BindTransceiver(sequence_number=9, system_id="again"))
    assert isinstance(event, Rejected)
    assert event.error.status == CommandStatus.ESME_RALYBND
    (answer,) = sent(pair.smsc)
    assert answer.command_id == CommandId.BIND_TRANSCEIVER_RESP
    assert (answer.sequence_number, answer.command_status) == (9, CommandStatus.ESME_RALYBND)
    assert pair.smsc.state is BOUND[mode]


def test_receiver_cannot_submit() -> None:
    pair = ConnectionPair()
    pair.bind(BindMode.RECEIVER)
    for pdu in (SubmitSm(destination_addr="1"), DataSm(destination_addr="1"), QuerySm(message_id="1")):
        with pytest.raises(LocalProtocolError):
            pair.esme.send_request(pdu, 0.0)
    (event,) = raw(pair.smsc, SubmitSm(sequence_number=3, destination_addr="447700900123"))
    assert isinstance(event, Rejected)
    assert event.error.status == CommandStatus.ESME_RINVBNDSTS
    assert sent(pair.smsc) == [SubmitSmResp(sequence_number=3, command_status=CommandStatus.ESME_RINVBNDSTS)]
    # ... but it does receive
    seq, (event,) = pair.request(pair.smsc, DeliverSm(source_addr="447700900123", short_message=b"STOP"))
    assert isinstance(event, Request)
    assert event.pdu == DeliverSm(sequence_number=seq, source_addr="447700900123", short_message=b"STOP")


def test_transmitter_does_not_receive() -> None:
    pair = ConnectionPair()
    pair.bind(BindMode.TRANSMITTER)
    with pytest.raises(LocalProtocolError):
        pair.smsc.send_request(DeliverSm(), 0.0)
    (event,) = raw(pair.esme, DeliverSm(sequence_number=4, short_message=b"hi"))
    assert isinstance(event, Rejected)
    assert event.error.status == CommandStatus.ESME_RINVBNDSTS
    assert sent(pair.esme) == [DeliverSmResp(sequence_number=4, command_status=CommandStatus.ESME_RINVBNDSTS)]
    # submitting works
    _, (request,) = pair.request(pair.esme, SubmitSm(destination_addr="447700900123", short_message=b"x"))
    assert isinstance(request, Request)


def test_outbind_has_no_response() -> None:
    pair = ConnectionPair()
    pair.smsc.send_request(Outbind(system_id="smsc", password="pw"), 0.0)
    assert pair.smsc.outstanding == 0
    (event,) = pair.deliver(pair.smsc)
    assert isinstance(event, Request)
    assert event.pdu == Outbind(sequence_number=1, system_id="smsc", password="pw")


def test_state_tables_cover_every_role_and_state() -> None:
    keys = {(role, state) for role in Role for state in State}
    assert set(PEER_REQUESTS) == keys
    assert set(OWN_REQUESTS) == keys


# --- sequence numbers and matching ------------------------------------------------------------------


def test_sequence_numbers_count_up_and_wrap_skipping_outstanding() -> None:
    pair = ConnectionPair()
    pair.bind()  # used 1
    assert [pair.esme.send_request(EnquireLink(), 0.0) for _ in range(3)] == [2, 3, 4]
    pair.esme._next_sequence = MAX_SEQUENCE - 1  # jump close to the end rather than send 2**31 PDUs
    numbers = [pair.esme.send_request(EnquireLink(), 0.0) for _ in range(4)]
    # 0x7FFFFFFF is the last number; 1 is free again, 2-4 are still outstanding.
    assert numbers == [MAX_SEQUENCE - 1, MAX_SEQUENCE, 1, 5]
    frames = sent(pair.esme)
    assert [p.sequence_number for p in frames] == [2, 3, 4, *numbers]


def test_own_sequence_numbers_replace_the_pdus() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq, (event,) = pair.request(pair.esme, SubmitSm(sequence_number=999, destination_addr="1"))
    assert seq == 2
    assert event.pdu.sequence_number == 2  # type: ignore[union-attr]


def test_responses_matched_with_context_in_any_order() -> None:
    pair = ConnectionPair()
    pair.bind()
    a, (req_a,) = pair.request(pair.esme, SubmitSm(destination_addr="1", short_message=b"a"), context="ctx-a")
    b, (req_b,) = pair.request(pair.esme, SubmitSm(destination_addr="2", short_message=b"b"), context="ctx-b")
    assert pair.esme.outstanding == 2
    (resp_b,) = pair.respond(pair.smsc, make_response(req_b.pdu, message_id="id-b"))  # type: ignore[union-attr]
    (resp_a,) = pair.respond(pair.smsc, make_response(req_a.pdu, message_id="id-a"))  # type: ignore[union-attr]
    submit = CommandId.SUBMIT_SM
    assert resp_b == Response(SubmitSmResp(sequence_number=b, message_id="id-b"), submit, "ctx-b")
    assert resp_a == Response(SubmitSmResp(sequence_number=a, message_id="id-a"), submit, "ctx-a")
    assert pair.esme.outstanding == 0


def test_unknown_response_is_unexpected() -> None:
    pair = ConnectionPair()
    pair.bind()
    (event,) = pair.respond(pair.smsc, SubmitSmResp(sequence_number=777, message_id="x"))
    assert event == UnexpectedResponse(SubmitSmResp(sequence_number=777, message_id="x"))
    assert sent(pair.esme) == []  # nothing is answered to a response


def test_same_response_twice_is_unexpected_the_second_time() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq, _ = pair.request(pair.esme, EnquireLink())
    assert isinstance(pair.respond(pair.smsc, EnquireLinkResp(sequence_number=seq))[0], Response)
    assert isinstance(pair.respond(pair.smsc, EnquireLinkResp(sequence_number=seq))[0], UnexpectedResponse)


def test_expire_returns_overdue_oldest_first() -> None:
    pair = ConnectionPair(response_timeout=10.0)
    pair.bind()
    sequences = []
    for now, context in ((0.0, "first"), (1.0, "second"), (2.0, "third")):
        pair.now = now
        sequences.append(pair.esme.send_request(EnquireLink(), now, context))
    requests = pair.deliver(pair.esme)
    assert pair.esme.next_deadline() == 10.0
    assert pair.esme.expire(9.99) == []
    expired = pair.esme.expire(10.0)
    assert [(w.sequence_number, w.context, w.deadline) for w in expired] == [(sequences[0], "first", 10.0)]
    assert pair.esme.next_deadline() == 11.0
    expired = pair.esme.expire(100.0)
    assert [w.context for w in expired] == ["second", "third"]
    assert [w.command_id for w in expired] == [CommandId.ENQUIRE_LINK] * 2
    assert pair.esme.outstanding == 0
    assert pair.esme.next_deadline() is None
    # the late answer no longer matches anything
    (late,) = pair.respond(pair.smsc, make_response(requests[0].pdu))  # type: ignore[union-attr]
    assert late == UnexpectedResponse(EnquireLinkResp(sequence_number=sequences[0]))


def test_abandon_all() -> None:
    pair = ConnectionPair()
    pair.bind()
    pair.esme.send_request(EnquireLink(), 0.0, "a")
    pair.esme.send_request(EnquireLink(), 0.0, "b")
    assert [w.context for w in pair.esme.abandon_all()] == ["a", "b"]
    assert pair.esme.state is State.CLOSED
    assert pair.esme.outstanding == 0


# --- unbinding --------------------------------------------------------------------------------------


def test_esme_unbinds() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq, (event,) = pair.request(pair.esme, Unbind())
    assert event == Request(Unbind(sequence_number=seq))
    assert (pair.esme.state, pair.smsc.state) == (State.UNBINDING, State.UNBINDING)
    with pytest.raises(LocalProtocolError):
        pair.esme.send_request(SubmitSm(), 0.0)
    (answer,) = pair.respond(pair.smsc, UnbindResp(sequence_number=seq))
    assert pair.smsc.state is State.CLOSED
    assert answer == Response(UnbindResp(sequence_number=seq), CommandId.UNBIND, None)
    assert pair.esme.state is State.CLOSED


def test_smsc_unbinds() -> None:
    pair = ConnectionPair()
    pair.bind(BindMode.RECEIVER)
    seq, (event,) = pair.request(pair.smsc, Unbind(), context="bye")
    assert (pair.esme.state, pair.smsc.state) == (State.UNBINDING, State.UNBINDING)
    assert isinstance(event, Request)
    (answer,) = pair.respond(pair.esme, make_response(event.pdu))
    assert answer == Response(UnbindResp(sequence_number=seq), CommandId.UNBIND, "bye")
    assert pair.smsc.state is pair.esme.state is State.CLOSED


def test_nothing_but_unbind_while_unbinding() -> None:
    pair = ConnectionPair()
    pair.bind()
    pair.request(pair.esme, Unbind())
    (event,) = raw(pair.smsc, SubmitSm(sequence_number=40, destination_addr="1"))
    assert isinstance(event, Rejected)
    assert sent(pair.smsc) == [SubmitSmResp(sequence_number=40, command_status=CommandStatus.ESME_RINVBNDSTS)]


# --- malformed input --------------------------------------------------------------------------------

BAD_SUBMIT = bytes.fromhex(
    "00000024 00000004 00000000 00000011 00 01 01 3100 01 01 3200 00 00 00 00 00 00 00 00 00 ff 41"
)  # sm_length 255 with one octet of text


def test_malformed_request_gets_its_own_error_response_and_the_session_goes_on() -> None:
    pair = ConnectionPair()
    pair.bind()
    events = raw(pair.smsc, BAD_SUBMIT, EnquireLink(sequence_number=18))
    assert len(events) == 2
    rejected, request = events
    assert isinstance(rejected, Rejected)
    assert rejected.error.status == CommandStatus.ESME_RINVMSGLEN
    assert (rejected.error.command_id, rejected.error.sequence_number) == (CommandId.SUBMIT_SM, 0x11)
    assert request == Request(EnquireLink(sequence_number=18))
    assert sent(pair.smsc) == [SubmitSmResp(sequence_number=0x11, command_status=RINVMSGLEN)]
    assert pair.smsc.broken is None
    assert pair.smsc.state is State.BOUND_TRX


def test_malformed_bind_gets_bind_resp() -> None:
    conn = Connection(Role.SMSC)
    too_long = bytes.fromhex(
        "00000027 00000002 00000000 00000003 4142434445464748494a4b4c4d4e4f5000 00 00 34 00 00 00"
    )
    (event,) = raw(conn, too_long)
    assert isinstance(event, Rejected)
    assert sent(conn) == [BindTransmitterResp(sequence_number=3, command_status=CommandStatus.ESME_RINVSYSID)]
    assert conn.state is State.OPEN


def test_unknown_command_gets_generic_nack() -> None:
    pair = ConnectionPair()
    pair.bind()
    unknown = bytes.fromhex("00000014 00000099 00000000 0000002a deadbeef")
    events = raw(pair.smsc, unknown, EnquireLink(sequence_number=3))
    assert isinstance(events[0], Rejected)
    assert events[0].error.status == CommandStatus.ESME_RINVCMDID
    assert events[1] == Request(EnquireLink(sequence_number=3))
    assert sent(pair.smsc) == [GenericNack(sequence_number=42, command_status=CommandStatus.ESME_RINVCMDID)]


@pytest.mark.parametrize("length", [8, 15, 0x7FFFFFFF])
def test_bad_command_length_breaks_the_connection(length: int) -> None:
    pair = ConnectionPair()
    pair.bind()
    frame = length.to_bytes(4, "big") + bytes.fromhex("00000004 00000000 00000033")
    events = raw(pair.smsc, frame)
    assert len(events) == 1
    assert isinstance(events[0], Rejected)
    assert events[0].error.fatal
    assert pair.smsc.broken is events[0].error
    assert sent(pair.smsc) == [GenericNack(sequence_number=0x33, command_status=RINVCMDLEN)]
    # nothing more comes out of a broken stream
    assert raw(pair.smsc, EnquireLink(sequence_number=1)) == []
    assert pair.smsc.next_event() is None
    assert sent(pair.smsc) == []


def test_malformed_response_fails_the_request_it_names() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq, _ = pair.request(pair.esme, SubmitSm(destination_addr="1", short_message=b"x"), context="mine")
    # submit_sm_resp whose message_id has no NUL
    bad = bytes.fromhex("00000013 80000004 00000000") + seq.to_bytes(4, "big") + b"abc"
    (event,) = raw(pair.esme, bad)
    nack = GenericNack(sequence_number=seq, command_status=RINVMSGLEN)
    assert event == Response(nack, CommandId.SUBMIT_SM, "mine")
    assert pair.esme.outstanding == 0
    assert sent(pair.esme) == []  # responses are never answered
    # a malformed response naming no request
    (event,) = raw(pair.esme, bad)
    assert event == UnexpectedResponse(nack)


def test_partial_pdu_is_visible() -> None:
    conn = Connection(Role.SMSC)
    conn.receive_data(encode_fields(EnquireLink(sequence_number=1))[:10], 5.0)
    assert conn.next_event() is None
    assert conn.has_partial_pdu
    assert conn.last_received == 5.0


def test_frames_waiting_for_next_event_count_as_pending() -> None:
    """A chunk's frames are cut at once; until next_event returns them they are received octets
    not yet events (what a link's backlog and partial-PDU timer look at)."""
    conn = Connection(Role.SMSC)
    frames = b"".join(encode_fields(EnquireLink(), seq) for seq in (1, 2, 3))
    conn.receive_data(frames + frames[:5], 1.0)
    assert conn.pending_octets == 53 and conn.has_partial_pdu
    assert [event.pdu.sequence_number for event in [conn.next_event(), conn.next_event()]] == [1, 2]  # type: ignore[union-attr]
    assert conn.pending_octets == 21 and conn.has_partial_pdu
    assert conn.next_event().pdu.sequence_number == 3  # type: ignore[union-attr]
    assert conn.next_event() is None
    assert conn.pending_octets == 5 and conn.has_partial_pdu
    conn.receive_data(frames[5:16], 2.0)
    assert conn.next_event().pdu.sequence_number == 1  # type: ignore[union-attr]
    assert conn.pending_octets == 0 and not conn.has_partial_pdu


# --- anything goes in, only events come out ----------------------------------------------------------


def build(role: Role, mode: BindMode | None) -> Connection:
    """A fresh connection, or one bound in ``mode`` with requests of its own outstanding."""
    pair = ConnectionPair()
    if mode is not None:
        pair.bind(mode)
        pair.esme.send_request(EnquireLink(), 0.0)
        pair.smsc.send_request(EnquireLink(), 0.0)
    conn = pair.esme if role is Role.ESME else pair.smsc
    conn.data_to_send()
    return conn


VALID_FRAMES = [
    encode_fields(p)
    for p in (
        EnquireLink(sequence_number=2),
        EnquireLinkResp(sequence_number=2),
        SubmitSm(sequence_number=3, destination_addr="1", short_message=b"x"),
        SubmitSmResp(sequence_number=2, message_id="m"),
        DeliverSm(sequence_number=3, short_message=b"STOP"),
        DeliverSmResp(sequence_number=2),
        BindTransmitter(sequence_number=1, system_id="x"),
        BindReceiverResp(sequence_number=1),
        Unbind(sequence_number=4),
        UnbindResp(sequence_number=2),
        GenericNack(sequence_number=2, command_status=8),
    )
]
stream = st.lists(
    st.one_of(
        st.sampled_from(VALID_FRAMES),
        st.binary(max_size=60),
        st.sampled_from(VALID_FRAMES).map(lambda f: f[:-1]),  # a truncated PDU: framing goes astray
    ),
    max_size=6,
).map(b"".join)


def run_whole(conn: Connection, data: bytes) -> list[Event]:
    conn.receive_data(data, 1.0)
    return list(conn.events())


def run_bytewise(conn: Connection, data: bytes) -> list[Event]:
    events: list[Event] = []
    for i in range(len(data)):
        conn.receive_data(data[i : i + 1], 1.0)
        events += conn.events()
    return events


def check_output(conn: Connection) -> None:
    for pdu in sent(conn):  # decodes, or the test fails
        assert pdu.is_response


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(list(Role)),
    st.sampled_from([None, *BindMode]),
    st.one_of(st.binary(max_size=200), stream),
)
def test_arbitrary_bytes_only_produce_events(role: Role, mode: BindMode | None, data: bytes) -> None:
    for feed in (run_whole, run_bytewise):
        conn = build(role, mode)
        try:
            events = feed(conn, data)
        except Exception as exc:  # the core must never raise on peer input
            pytest.fail(f"{feed.__name__} raised {type(exc).__name__}: {exc} on {data.hex()}")
        assert all(isinstance(e, (Request, Response, Rejected, UnexpectedResponse)) for e in events)
        check_output(conn)
        assert conn.state in State


class SessionMachine(RuleBasedStateMachine):
    """Random interleavings of valid traffic, garbage, timeouts and unbinds never make the core raise."""

    def __init__(self) -> None:
        super().__init__()
        self.pair = ConnectionPair(response_timeout=5.0)
        self.pending: list[tuple[Connection, Pdu]] = []

    def _collect(self, conn: Connection, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, Request) and event.pdu.command_id.has_response:
                self.pending.append((conn, event.pdu))

    @initialize(mode=st.sampled_from([None, *BindMode]))
    def start(self, mode: BindMode | None) -> None:
        if mode is not None:
            self.pair.bind(mode)

    @rule(esme=st.booleans())
    def unbind(self, esme: bool) -> None:
        """A whole unbind exchange, so that CLOSED sessions meet more traffic."""
        sender = self.pair.esme if esme else self.pair.smsc
        if CommandId.UNBIND not in OWN_REQUESTS[(sender.role, sender.state)]:
            return
        if any(c.has_partial_pdu or c.broken for c in (sender, self.pair.peer(sender))):
            return  # garbage left in a buffer misframes what follows: no exchange to check
        _, events = self.pair.request(sender, Unbind())
        for event in events:
            if isinstance(event, Request):
                self.pair.respond(self.pair.peer(sender), make_response(event.pdu))
                assert sender.state is State.CLOSED

    @rule(mode=st.sampled_from(list(BindMode)))
    def bind(self, mode: BindMode) -> None:
        if BIND_CLASSES[mode].command_id in OWN_REQUESTS[(Role.ESME, self.pair.esme.state)]:
            _, events = self.pair.request(self.pair.esme, BIND_CLASSES[mode](system_id="x"))
            self._collect(self.pair.smsc, events)

    @rule(esme=st.booleans(), kind=st.sampled_from([EnquireLink, SubmitSm, DeliverSm, DataSm, Unbind]))
    def send(self, esme: bool, kind: type[Pdu]) -> None:
        sender = self.pair.esme if esme else self.pair.smsc
        if kind.command_id in OWN_REQUESTS[(sender.role, sender.state)]:
            _, events = self.pair.request(sender, kind())
            self._collect(self.pair.peer(sender), events)
        else:
            with pytest.raises(LocalProtocolError):
                sender.send_request(kind(), self.pair.now)

    @precondition(lambda self: bool(self.pending))
    @rule(index=st.integers(0, 100), ok=st.booleans())
    def answer(self, index: int, ok: bool) -> None:
        conn, request = self.pending.pop(index % len(self.pending))
        status = CommandStatus.ESME_ROK if ok else CommandStatus.ESME_RTHROTTLED
        self.pair.respond(conn, make_response(request, status))

    @rule(esme=st.booleans(), data=st.one_of(st.binary(max_size=40), st.sampled_from(VALID_FRAMES)))
    def garbage(self, esme: bool, data: bytes) -> None:
        conn = self.pair.esme if esme else self.pair.smsc
        self._collect(conn, raw(conn, data))

    @rule(seconds=st.floats(0, 10))
    def tick(self, seconds: float) -> None:
        self.pair.now += seconds
        for conn in (self.pair.esme, self.pair.smsc):
            for waiting in conn.expire(self.pair.now):
                assert waiting.deadline <= self.pair.now

    @invariant()
    def sane(self) -> None:
        for conn in (self.pair.esme, self.pair.smsc):
            assert conn.outstanding >= 0
            assert conn.state in State
            deadline = conn.next_deadline()
            assert (deadline is None) == (conn.outstanding == 0)


TestSessionMachine = SessionMachine.TestCase
TestSessionMachine.settings = settings(max_examples=60, stateful_step_count=25, deadline=None)


# --- relayed responses ---------------------------------------------------------------------------


def _relayed_submit(pair: ConnectionPair, context: object = 7, *, relay: bool = True) -> int:
    submit = SubmitSm(destination_addr="1", short_message=b"x")
    seq = pair.esme.send_request(submit, 0.0, context, relay=relay)
    pair.esme.data_to_send()
    return seq


def test_the_answer_to_a_relayed_request_comes_as_its_frame() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq = _relayed_submit(pair, context=41)
    frame = encode_fields(SubmitSmResp(message_id="abc123"), seq)
    (event,) = raw(pair.esme, frame)
    assert event == Relayed([frame], CommandId.SUBMIT_SM_RESP, 0, [41])
    assert pair.esme.outstanding == 0
    # The other leg sends it unchanged but for the sequence number (the context).
    pair.smsc.send_relayed(event)
    assert sent(pair.smsc) == [SubmitSmResp(message_id="abc123", sequence_number=41)]


def test_answers_arriving_together_are_relayed_as_one_event_in_their_order() -> None:
    pair = ConnectionPair()
    pair.bind()
    seqs = [_relayed_submit(pair, context=100 + i) for i in range(5)]
    frames = [encode_fields(SubmitSmResp(message_id=f"id{seq}"), seq) for seq in reversed(seqs)]
    (event,) = raw(pair.esme, *frames)
    assert event == Relayed(frames, CommandId.SUBMIT_SM_RESP, 0, [104, 103, 102, 101, 100])
    assert pair.esme.outstanding == 0
    pair.smsc.send_relayed(event)
    assert sent(pair.smsc) == [
        SubmitSmResp(message_id=f"id{seq}", sequence_number=100 + seq - seqs[0]) for seq in reversed(seqs)
    ]


def test_a_batch_of_relayed_answers_ends_where_the_kind_changes_and_order_is_kept() -> None:
    """Each run of answers with one command_id and status is one event; anything the relayed path
    does not take (here a decoded answer to a request not sent for relay) comes in its place."""
    pair = ConnectionPair()
    pair.bind()
    a, b, c, d, e = (_relayed_submit(pair, context=f"r{i}") for i in range(5))
    plain = _relayed_submit(pair, context="plain", relay=False)
    ok = [encode_fields(SubmitSmResp(message_id=str(seq)), seq) for seq in (a, b)]
    busy = SubmitSmResp(command_status=CommandStatus.ESME_RTHROTTLED)
    throttled = [encode_fields(busy, seq) for seq in (c, d)]
    after = encode_fields(SubmitSmResp(message_id="x"), e)
    events = raw(pair.esme, *ok, *throttled, encode_fields(SubmitSmResp(message_id="p"), plain), after)
    assert events == [
        Relayed(ok, CommandId.SUBMIT_SM_RESP, 0, ["r0", "r1"]),
        Relayed(throttled, CommandId.SUBMIT_SM_RESP, CommandStatus.ESME_RTHROTTLED, ["r2", "r3"]),
        Response(SubmitSmResp(message_id="p", sequence_number=plain), CommandId.SUBMIT_SM, "plain"),
        Relayed([after], CommandId.SUBMIT_SM_RESP, 0, ["r4"]),
    ]
    assert pair.esme.outstanding == 0


def test_an_error_without_a_body_is_relayed_too() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq = _relayed_submit(pair)
    frame = bytes.fromhex("00000010 80000004 00000058") + seq.to_bytes(4, "big")  # ESME_RTHROTTLED
    (event,) = raw(pair.esme, frame)
    assert event == Relayed([frame], CommandId.SUBMIT_SM_RESP, CommandStatus.ESME_RTHROTTLED, [7])


@pytest.mark.parametrize(
    ("name", "answer"),
    [
        ("message_id without its NUL", "00000013 80000004 00000000 {seq} 616263"),
        ("octets after message_id", "00000015 80000004 00000000 {seq} 616263 00 01"),
        ("OK without a body", "00000010 80000004 00000000 {seq}"),
        ("generic_nack", "00000010 80000000 00000003 {seq}"),
        ("another command's response", "00000011 80000005 00000000 {seq} 00"),
    ],
)
def test_anything_unusual_is_decoded_and_answered_as_before(name: str, answer: str) -> None:
    """What the Relayed path does not take goes through decode() and comes as the events it always
    did, so an SMSC's malformed answer never reaches the ESME as it is."""
    expected = []
    for relay in (False, True):
        pair = ConnectionPair()
        pair.bind()
        seq = _relayed_submit(pair, relay=relay)
        frame = bytes.fromhex(answer.format(seq=f"{seq:08x}"))
        events = raw(pair.esme, frame)
        assert not any(isinstance(e, Relayed) for e in events), name
        expected.append(events)
    assert expected[0] == expected[1]


def test_requests_not_sent_for_relay_get_decoded_responses() -> None:
    pair = ConnectionPair()
    pair.bind()
    seq = _relayed_submit(pair, relay=False)
    (event,) = raw(pair.esme, encode_fields(SubmitSmResp(message_id="abc"), seq))
    assert event == Response(SubmitSmResp(message_id="abc", sequence_number=seq), CommandId.SUBMIT_SM, 7)
