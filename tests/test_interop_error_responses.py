"""Error responses carry no body (issue 13, item 6; SMPP 3.4 §4.4.2, §4.6.2, §4.7.2): golden PDUs.

What Stopgate writes: a submit_sm_resp, deliver_sm_resp or data_sm_resp with a non-zero command_status
is the 16-octet header alone. What it reads: both that and the body-carrying form some SMSCs send.
"""

from __future__ import annotations

import pytest

from gateway.smpp.codec import decode, encode
from gateway.smpp.connection import Connection
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import (
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    SubmitSm,
    SubmitSmResp,
    make_response,
)
from gateway.smpp.states import Role


@pytest.mark.parametrize(
    ("request_pdu", "header"),
    [
        (SubmitSm(sequence_number=7), "00000010 80000004 0000000b 00000007"),
        (DeliverSm(sequence_number=7), "00000010 80000005 0000000b 00000007"),
        (DataSm(sequence_number=7), "00000010 80000103 0000000b 00000007"),
    ],
)
def test_an_error_response_is_the_header_alone(
    request_pdu: SubmitSm | DeliverSm | DataSm, header: str
) -> None:
    frame = encode(make_response(request_pdu, CommandStatus.ESME_RINVDSTADR))
    assert frame == bytes.fromhex(header.replace(" ", ""))
    # even when a message id was filled in by mistake
    frame = encode(make_response(request_pdu, CommandStatus.ESME_RINVDSTADR, message_id="abc"))
    assert frame == bytes.fromhex(header.replace(" ", ""))


def test_an_ok_response_keeps_its_body() -> None:
    frame = encode(make_response(SubmitSm(sequence_number=7), message_id="abc"))
    assert frame == bytes.fromhex("00000014 80000004 00000000 00000007 61626300".replace(" ", ""))
    assert encode(make_response(SubmitSm(sequence_number=7))) == bytes.fromhex(
        "00000011 80000004 00000000 00000007 00".replace(" ", "")
    )


@pytest.mark.parametrize(
    ("frame", "cls"),
    [
        ("00000010 80000004 00000045 00000003", SubmitSmResp),  # the header alone
        ("00000011 80000004 00000045 00000003 00", SubmitSmResp),  # an empty message_id
        ("00000010 80000005 00000045 00000003", DeliverSmResp),
        ("00000011 80000005 00000045 00000003 00", DeliverSmResp),
        ("00000010 80000103 00000045 00000003", DataSmResp),
        ("00000011 80000103 00000045 00000003 00", DataSmResp),
    ],
)
def test_both_forms_are_read(frame: str, cls: type) -> None:
    pdu = decode(bytes.fromhex(frame.replace(" ", "")))
    assert type(pdu) is cls
    assert (pdu.command_status, pdu.sequence_number, pdu.message_id) == (0x45, 3, "")  # type: ignore[attr-defined]


def test_the_connection_answers_a_refused_request_with_the_header_alone() -> None:
    """A submit_sm on an unbound connection: the core's own error response."""
    conn = Connection(Role.SMSC)
    conn.receive_data(encode(SubmitSm(sequence_number=9, destination_addr="447700900001")), 0.0)
    list(conn.events())
    assert conn.data_to_send() == bytes.fromhex("00000010 80000004 00000004 00000009".replace(" ", ""))
