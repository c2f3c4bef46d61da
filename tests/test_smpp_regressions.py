"""Regression cases for bugs found by tools/fuzz_smpp.py and while writing the SMPP core's tests."""

from __future__ import annotations

import pytest

from gateway.smpp.codec import decode, encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.errors import LocalProtocolError, RemoteProtocolError
from gateway.smpp.events import Rejected, Response, UnexpectedResponse
from gateway.smpp.pdu import (
    AlertNotification,
    BindTransceiver,
    BindTransceiverResp,
    DataSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.states import Role, State


def closed(role: Role) -> Connection:
    """A connection whose peer unbound and got its unbind_resp: state CLOSED."""
    conn = Connection(role)
    if role is Role.SMSC:
        conn.receive_data(encode_fields(BindTransceiver(sequence_number=1, system_id="esme")), 0.0)
        list(conn.events())
        conn.send_response(BindTransceiverResp(sequence_number=1))
    else:
        seq = conn.send_request(BindTransceiver(system_id="esme"), 0.0)
        conn.receive_data(encode_fields(BindTransceiverResp(sequence_number=seq)), 0.0)
        list(conn.events())
    conn.receive_data(encode_fields(Unbind(sequence_number=7)), 0.0)
    list(conn.events())
    conn.send_response(UnbindResp(sequence_number=7))
    conn.data_to_send()
    assert conn.state is State.CLOSED
    return conn


#: fuzz_smpp --seed 1 (before the fix): a bind_transmitter_resp then an unbind, fed to a closed session,
#: made next_event() raise KeyError((Role.ESME, State.CLOSED)) since the state table had no CLOSED rows.
FUZZ_CLOSED_KEYERROR = bytes.fromhex(
    "0000001a800000020000000000000001534d534300021000013400000010000000060000000000000002"
)


@pytest.mark.parametrize("role", list(Role))
def test_fuzz_crash_request_after_unbind_resp(role: Role) -> None:
    conn = closed(role)
    conn.receive_data(FUZZ_CLOSED_KEYERROR, 1.0)
    events = list(conn.events())
    assert isinstance(events[0], UnexpectedResponse)
    assert isinstance(events[1], Rejected)
    assert events[1].error.status == CommandStatus.ESME_RINVBNDSTS
    answer = decode(conn.data_to_send())
    assert answer == UnbindResp(sequence_number=2, command_status=CommandStatus.ESME_RINVBNDSTS)


@pytest.mark.parametrize("role", list(Role))
def test_peer_keeps_talking_after_unbind_resp(role: Role) -> None:
    """An SMSC that sends unbind_resp and an enquire_link in one TCP segment must not crash the link."""
    conn = closed(role)
    conn.receive_data(encode_fields(EnquireLink(sequence_number=8)), 1.0)
    (event,) = conn.events()
    assert isinstance(event, Rejected)
    assert decode(conn.data_to_send()) == EnquireLinkResp(
        sequence_number=8, command_status=CommandStatus.ESME_RINVBNDSTS
    )


@pytest.mark.parametrize("role", list(Role))
def test_send_request_when_closed_is_a_local_error(role: Role) -> None:
    conn = closed(role)
    with pytest.raises(LocalProtocolError):  # was KeyError
        conn.send_request(EnquireLink(), 1.0)


# data_sm (§4.7.1) and alert_notification (§4.12.1) addresses are "Var. max 65", not 21 as in submit_sm:
# a valid data_sm from a WAP gateway with a long source address was rejected with ESME_RINVSRCADR.


def test_data_sm_accepts_64_character_addresses() -> None:
    source, destination = "a" * 64, "1" * 40
    frame = bytes.fromhex("00000000 00000103 00000000 00000001 00 01 01")
    frame += source.encode() + b"\x00\x01\x01" + destination.encode() + b"\x00" + bytes.fromhex("00 00 00")
    frame = len(frame).to_bytes(4, "big") + frame[4:]
    pdu = decode(frame)
    assert isinstance(pdu, DataSm)
    assert (pdu.source_addr, pdu.destination_addr) == (source, destination)
    assert encode_fields(pdu) == frame


def test_data_sm_rejects_65_character_address() -> None:
    frame = encode_fields(DataSm(sequence_number=1, source_addr="a" * 64))
    too_long = frame.replace(b"a" * 64, b"a" * 65)
    too_long = len(too_long).to_bytes(4, "big") + too_long[4:]
    with pytest.raises(RemoteProtocolError) as info:
        decode(too_long)
    assert info.value.status == CommandStatus.ESME_RINVSRCADR


def test_alert_notification_accepts_64_character_source() -> None:
    pdu = AlertNotification(sequence_number=1, source_addr="b" * 64, esme_addr="c" * 64)
    assert decode(encode_fields(pdu)) == pdu


def test_submit_sm_addresses_stay_at_20() -> None:
    with pytest.raises(LocalProtocolError):
        encode_fields(SubmitSm(source_addr="1" * 21))


# A response of the wrong type carrying the sequence number of one of our requests used to "answer" it:
# the proxy then relayed, say, a deliver_sm_resp to a client waiting for its submit_sm_resp, and any
# response to an outstanding unbind closed the session.


def bound_esme() -> Connection:
    conn = Connection(Role.ESME)
    seq = conn.send_request(BindTransceiver(system_id="esme"), 0.0)
    conn.receive_data(encode_fields(BindTransceiverResp(sequence_number=seq)), 0.0)
    list(conn.events())
    conn.data_to_send()
    return conn


def test_response_of_the_wrong_type_is_unexpected() -> None:
    conn = bound_esme()
    seq = conn.send_request(SubmitSm(destination_addr="1"), 0.0, context="submit")
    conn.receive_data(encode_fields(DeliverSmResp(sequence_number=seq)), 1.0)
    assert list(conn.events()) == [UnexpectedResponse(DeliverSmResp(sequence_number=seq))]
    assert conn.outstanding == 1  # still waiting: the right answer may come, or it expires
    conn.receive_data(encode_fields(SubmitSmResp(sequence_number=seq, message_id="m")), 2.0)
    assert list(conn.events()) == [
        Response(SubmitSmResp(sequence_number=seq, message_id="m"), CommandId.SUBMIT_SM, "submit")
    ]


def test_malformed_response_of_the_wrong_type_is_unexpected() -> None:
    conn = bound_esme()
    seq = conn.send_request(SubmitSm(destination_addr="1"), 0.0)
    bad = bytes.fromhex("00000013 80000005 00000000") + seq.to_bytes(4, "big") + b"abc"  # deliver_sm_resp
    conn.receive_data(bad, 1.0)
    (event,) = conn.events()
    assert isinstance(event, UnexpectedResponse)
    assert conn.outstanding == 1


def test_wrong_response_to_unbind_does_not_close() -> None:
    conn = bound_esme()
    seq = conn.send_request(Unbind(), 0.0)
    conn.receive_data(encode_fields(EnquireLinkResp(sequence_number=seq)), 1.0)
    (event,) = conn.events()
    assert isinstance(event, UnexpectedResponse)
    assert (conn.state, conn.outstanding) == (State.UNBINDING, 1)
    conn.receive_data(encode_fields(UnbindResp(sequence_number=seq)), 1.0)
    (event,) = conn.events()
    assert isinstance(event, Response)
    assert conn.state is State.CLOSED
