"""SMPP 3.4 codec: golden frames written by hand from the spec's field tables (§4.x), byte-exact round
trips, malformed input and hypothesis properties.

Every golden frame below was written octet by octet from the specification layout (header: command_length,
command_id, command_status, sequence_number; then the body fields in table order), never produced by our
encoder, and a few are cross-checked against smpplib's independent encoder.
"""

from __future__ import annotations

import dataclasses
from typing import Any
from unittest import mock

import pytest
import smpplib.smpp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gateway.smpp import codec
from gateway.smpp.codec import decode, encode, encode_fields, parse_header
from gateway.smpp.constants import CommandId, CommandStatus, Tag
from gateway.smpp.errors import LocalProtocolError, ProtocolError, RemoteProtocolError
from gateway.smpp.fields import Dest, Tlv, UnsuccessSme
from gateway.smpp.pdu import (
    PDU_CLASSES,
    AlertNotification,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    CancelSm,
    CancelSmResp,
    DataSm,
    DataSmResp,
    DeliverSm,
    DeliverSmResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    Outbind,
    Pdu,
    QuerySm,
    QuerySmResp,
    ReplaceSm,
    ReplaceSmResp,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    SubmitSmResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.splice import with_message, with_sequence


def h(text: str) -> bytes:
    """Hex with whitespace for readability; one group per field."""
    return bytes.fromhex(text)


# Reused address fields: "447700900123" (12 digits + NUL) and "12345".
MSISDN = "34 34 37 37 30 30 39 30 30 31 32 33 00"
SHORT = "31 32 33 34 35 00"

#: (name, frame, the PDU it must decode to). Headers: length, command_id, command_status, sequence_number.
GOLDEN: list[tuple[str, bytes, Pdu]] = [
    (
        "bind_transmitter",  # §4.1.1
        h(
            "00000020 00000002 00000000 00000001"
            " 65736d6500"  # system_id "esme"
            " 707700"  # password "pw"
            " 564d5300"  # system_type "VMS"
            " 34 01 01"  # interface_version 3.4, addr_ton, addr_npi
            " 00"  # address_range ""
        ),
        BindTransmitter(
            sequence_number=1, system_id="esme", password="pw", system_type="VMS", addr_ton=1, addr_npi=1
        ),
    ),
    (
        "bind_receiver",  # §4.1.3
        h("00000023 00000001 00000000 00000002 727800 73656372657400 00 34 00 00 5e34343700"),
        BindReceiver(sequence_number=2, system_id="rx", password="secret", address_range="^447"),
    ),
    (
        "bind_transceiver",  # §4.1.5, interface_version 3.3
        h("0000001a 00000009 00000000 00000003 74727800 00 00 33 02 08 00"),
        BindTransceiver(sequence_number=3, system_id="trx", interface_version=0x33, addr_ton=2, addr_npi=8),
    ),
    (
        "bind_transmitter_resp",  # §4.1.2, with sc_interface_version TLV (§5.3.2.25)
        h("0000001a 80000002 00000000 00000001 534d534300 0210 0001 34"),
        BindTransmitterResp(sequence_number=1, system_id="SMSC", tlvs=(Tlv(0x0210, b"\x34"),)),
    ),
    (
        "bind_receiver_resp",  # §4.1.4
        h("00000015 80000001 00000000 00000002 534d534300"),
        BindReceiverResp(sequence_number=2, system_id="SMSC"),
    ),
    (
        "bind_transceiver_resp",  # §4.1.6, empty system_id
        h("00000011 80000009 00000000 00000003 00"),
        BindTransceiverResp(sequence_number=3),
    ),
    (
        "outbind",  # §4.1.7
        h("00000018 0000000b 00000000 00000007 736d736300 707700"),
        Outbind(sequence_number=7, system_id="smsc", password="pw"),
    ),
    ("unbind", h("00000010 00000006 00000000 00000009"), Unbind(sequence_number=9)),  # §4.2.1
    ("unbind_resp", h("00000010 80000006 00000000 00000009"), UnbindResp(sequence_number=9)),  # §4.2.2
    (
        "generic_nack",  # §4.3.1, carrying ESME_RINVCMDID
        h("00000010 80000000 00000003 00000005"),
        GenericNack(sequence_number=5, command_status=CommandStatus.ESME_RINVCMDID),
    ),
    (
        "submit_sm",  # §4.4.1
        h(
            "0000003a 00000004 00000000 00000002"
            " 00"  # service_type ""
            " 05 00 53746f706761746500"  # source: alphanumeric "Stopgate"
            f" 01 01 {MSISDN}"  # destination: international/ISDN
            " 00 00 00"  # esm_class, protocol_id, priority_flag
            " 00 00"  # schedule_delivery_time, validity_period
            " 01 00 00 00"  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
            " 05 68656c6c6f"  # sm_length 5, "hello"
        ),
        SubmitSm(
            sequence_number=2,
            source_addr_ton=5,
            source_addr="Stopgate",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            registered_delivery=1,
            short_message=b"hello",
        ),
    ),
    (
        "submit_sm_resp",  # §4.4.2
        h("00000017 80000004 00000000 00000002 61626331323300"),
        SubmitSmResp(sequence_number=2, message_id="abc123"),
    ),
    (
        "submit_multi",  # §4.5.1: one SME address, one distribution list
        h(
            "00000042 00000021 00000000 00000004"
            " 434d5400"  # service_type "CMT"
            f" 01 01 {SHORT}"  # source
            " 02"  # number_of_dests
            " 01 01 01 34343737303039303030303100"  # dest_flag 1 (SME), ton, npi, "447700900001"
            " 02 667269656e647300"  # dest_flag 2 (distribution list) "friends"
            " 00 00 01"  # esm_class, protocol_id, priority_flag 1
            " 00 00"
            " 00 00 03 00"  # data_coding 3 (Latin-1)
            " 02 6869"  # "hi"
        ),
        SubmitMulti(
            sequence_number=4,
            service_type="CMT",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="12345",
            dests=(Dest(1, 1, 1, "447700900001"), Dest(2, 0, 0, "friends")),
            priority_flag=1,
            data_coding=3,
            short_message=b"hi",
        ),
    ),
    (
        "submit_multi_resp",  # §4.5.2 with one unsuccess_sme
        h(
            "00000027 80000021 00000000 00000004"
            " 6d3100"  # message_id "m1"
            " 01"  # no_unsuccess
            " 01 01 34343737303039303030303100 0000000b"  # ton, npi, address, ESME_RINVDSTADR
        ),
        SubmitMultiResp(
            sequence_number=4,
            message_id="m1",
            unsuccess_smes=(UnsuccessSme(1, 1, "447700900001", CommandStatus.ESME_RINVDSTADR),),
        ),
    ),
    (
        "data_sm",  # §4.7.1, text in message_payload (UCS2 "Hi")
        h(
            "00000033 00000103 00000000 00000006"
            f" 00 01 01 {MSISDN} 00 00 {SHORT}"
            " 00 01 08"  # esm_class, registered_delivery, data_coding UCS2
            " 0424 0004 00480069"
        ),
        DataSm(
            sequence_number=6,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            destination_addr="12345",
            registered_delivery=1,
            data_coding=8,
            tlvs=(Tlv(Tag.MESSAGE_PAYLOAD, b"\x00H\x00i"),),
        ),
    ),
    (
        "data_sm_resp",  # §4.7.2 with delivery_failure_reason
        h("00000018 80000103 00000000 00000006 643100 0425 0001 02"),
        DataSmResp(sequence_number=6, message_id="d1", tlvs=(Tlv(Tag.DELIVERY_FAILURE_REASON, b"\x02"),)),
    ),
    (
        "deliver_sm",  # §4.6.1: a delivery receipt (esm_class 0x04) with receipted_message_id, message_state
        h(
            "00000042 00000005 00000000 00000003"
            f" 00 01 01 {MSISDN} 00 00 {SHORT}"
            " 04 00 00 00 00 00 00 00 00"
            " 00"  # sm_length 0
            " 001e 0007 61626331323300"
            " 0427 0001 02"
        ),
        DeliverSm(
            sequence_number=3,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            destination_addr="12345",
            esm_class=0x04,
            tlvs=(Tlv(Tag.RECEIPTED_MESSAGE_ID, b"abc123\x00"), Tlv(Tag.MESSAGE_STATE, b"\x02")),
        ),
    ),
    (
        "deliver_sm_resp",  # §4.6.2: message_id unused, NULL
        h("00000011 80000005 00000000 00000003 00"),
        DeliverSmResp(sequence_number=3),
    ),
    (
        "query_sm",  # §4.8.1
        h(f"00000026 00000003 00000000 00000008 61626331323300 01 01 {MSISDN}"),
        QuerySm(
            sequence_number=8,
            message_id="abc123",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
        ),
    ),
    (
        "query_sm_resp",  # §4.8.2: final_date in absolute time format (§7.1.1), DELIVERED
        h(
            "0000002a 80000003 00000000 00000008 61626331323300"
            " 323530343131313230303030303034 2b00"  # "250411120000004+"
            " 02 00"
        ),
        QuerySmResp(sequence_number=8, message_id="abc123", final_date="250411120000004+", message_state=2),
    ),
    (
        "cancel_sm",  # §4.9.1
        h(f"0000002a 00000008 00000000 0000000a 00 61626331323300 01 01 {MSISDN} 00 00 00"),
        CancelSm(
            sequence_number=10,
            message_id="abc123",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
        ),
    ),
    ("cancel_sm_resp", h("00000010 80000008 00000000 0000000a"), CancelSmResp(sequence_number=10)),
    (
        "replace_sm",  # §4.10.1: relative validity period "000001000000000R" (one day)
        h(
            f"0000003e 00000007 00000000 0000000b 61626331323300 01 01 {MSISDN}"
            " 00 3030303030313030303030303030305200"
            " 01 00 03 6e6577"
        ),
        ReplaceSm(
            sequence_number=11,
            message_id="abc123",
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            validity_period="000001000000000R",
            registered_delivery=1,
            short_message=b"new",
        ),
    ),
    ("replace_sm_resp", h("00000010 80000007 00000000 0000000b"), ReplaceSmResp(sequence_number=11)),
    ("enquire_link", h("00000010 00000015 00000000 00000001"), EnquireLink(sequence_number=1)),  # §4.11.1
    ("enquire_link_resp", h("00000010 80000015 00000000 00000001"), EnquireLinkResp(sequence_number=1)),
    (
        "alert_notification",  # §4.12.1 with ms_availability_status
        h(f"0000002c 00000102 00000000 0000000c 01 01 {MSISDN} 00 00 {SHORT} 0422 0001 00"),
        AlertNotification(
            sequence_number=12,
            source_addr_ton=1,
            source_addr_npi=1,
            source_addr="447700900123",
            esme_addr="12345",
            tlvs=(Tlv(Tag.MS_AVAILABILITY_STATUS, b"\x00"),),
        ),
    ),
]
GOLDEN_BY_NAME = {name: frame for name, frame, _ in GOLDEN}


def test_golden_covers_every_command() -> None:
    assert {type(pdu) for _, _, pdu in GOLDEN} == set(PDU_CLASSES.values())
    assert {name for name, _, _ in GOLDEN} == {c.name.lower() for c in CommandId}


@pytest.mark.parametrize(("name", "frame", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_decode(name: str, frame: bytes, expected: Pdu) -> None:
    length, command_id, _, _ = parse_header(frame)
    assert length == len(frame)  # the hand-written length field is right
    pdu = decode(frame)
    assert type(pdu) is type(expected)
    assert pdu == expected
    assert pdu.command_id == command_id
    assert pdu.command_id.name.lower() == name
    assert pdu.raw == frame


@pytest.mark.parametrize(("name", "frame", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_encode(name: str, frame: bytes, expected: Pdu) -> None:
    assert expected.raw == b""
    assert encode_fields(expected) == frame
    assert encode(expected) == frame
    assert encode(decode(frame)) == frame
    assert encode_fields(decode(frame)) == frame


def _smpplib(command: str, sequence: int, **fields: Any) -> bytes:
    pdu = smpplib.smpp.make_pdu(command, sequence=sequence, **fields)
    pdu.sequence = sequence  # responses ignore sequence= in the constructor
    frame: bytes = pdu.generate()
    return frame


@pytest.mark.parametrize(
    ("name", "smpplib_frame"),
    [
        ("enquire_link", lambda: _smpplib("enquire_link", 1)),
        ("unbind", lambda: _smpplib("unbind", 9)),
        ("generic_nack", lambda: _smpplib("generic_nack", 5, status=CommandStatus.ESME_RINVCMDID)),
        (
            "bind_transmitter",
            lambda: _smpplib(
                "bind_transmitter",
                1,
                system_id="esme",
                password="pw",
                system_type="VMS",
                addr_ton=1,
                addr_npi=1,
            ),
        ),
        (
            "bind_transmitter_resp",
            lambda: _smpplib("bind_transmitter_resp", 1, system_id="SMSC", sc_interface_version=0x34),
        ),
        (
            "submit_sm",
            lambda: _smpplib(
                "submit_sm",
                2,
                source_addr_ton=5,
                source_addr="Stopgate",
                dest_addr_ton=1,
                dest_addr_npi=1,
                destination_addr="447700900123",
                registered_delivery=1,
                short_message=b"hello",
            ),
        ),
        ("submit_sm_resp", lambda: _smpplib("submit_sm_resp", 2, message_id="abc123")),
        ("deliver_sm_resp", lambda: _smpplib("deliver_sm_resp", 3)),
        (
            "data_sm",
            lambda: _smpplib(
                "data_sm",
                6,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr="447700900123",
                destination_addr="12345",
                registered_delivery=1,
                data_coding=8,
                message_payload=b"\x00H\x00i",
            ),
        ),
        (
            "query_sm",
            lambda: _smpplib(
                "query_sm",
                8,
                message_id="abc123",
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr="447700900123",
            ),
        ),
        (
            "query_sm_resp",
            lambda: _smpplib(
                "query_sm_resp", 8, message_id="abc123", final_date="250411120000004+", message_state=2
            ),
        ),
        (
            "alert_notification",
            lambda: _smpplib(
                "alert_notification",
                12,
                source_addr_ton=1,
                source_addr_npi=1,
                source_addr="447700900123",
                esme_addr="12345",
                ms_availability_status=0,
            ),
        ),
    ],
)
def test_golden_matches_smpplib(name: str, smpplib_frame: Any) -> None:
    """smpplib, an independent encoder, produces the same octets as the hand-written golden frames."""
    assert smpplib_frame() == GOLDEN_BY_NAME[name]


def test_smpplib_parses_our_submit_sm() -> None:
    parsed = smpplib.smpp.parse_pdu(encode_fields(GOLDEN[10][2]), sequence=0)
    assert parsed.command == "submit_sm"
    assert parsed.sequence == 2
    assert parsed.short_message == b"hello"
    assert parsed.destination_addr == b"447700900123"


# --- TLVs and byte-exact forwarding -----------------------------------------------------------

VENDOR_SUBMIT = h(
    "00000044 00000004 00000000 01020304"
    " 00 01 01 313233343500 01 01 3536373800"  # "12345" -> "5678"
    " 00 00 00 00 00 00 00 00 00"
    " 00"  # sm_length 0: the text is in message_payload
    " 1400 0003 616263"  # vendor TLV 0x1400 "abc"
    " 0424 0005 68656c6c6f"  # message_payload "hello"
    " 4000 0000"  # zero-length vendor TLV 0x4000
    " 020c 0002 01f4"  # sar_msg_ref_num 500
)


def test_vendor_tlvs_survive_in_wire_order() -> None:
    pdu = decode(VENDOR_SUBMIT)
    assert isinstance(pdu, SubmitSm)
    assert pdu.sequence_number == 0x01020304
    assert pdu.source_addr == "12345"
    assert pdu.destination_addr == "5678"
    assert pdu.short_message == b""
    assert pdu.tlvs == (
        Tlv(0x1400, b"abc"),
        Tlv(Tag.MESSAGE_PAYLOAD, b"hello"),
        Tlv(0x4000, b""),
        Tlv(Tag.SAR_MSG_REF_NUM, b"\x01\xf4"),
    )
    assert encode(pdu) == VENDOR_SUBMIT
    assert encode_fields(pdu) == VENDOR_SUBMIT
    # Changed and re-encoded from the fields: the unknown TLVs stay, in place.
    changed = dataclasses.replace(pdu, destination_addr="5679")
    assert changed.raw == b""
    assert encode(changed) == VENDOR_SUBMIT.replace(b"5678\x00", b"5679\x00")
    # Forwarded under another sequence number: only the header's sequence_number changes.
    assert with_sequence(VENDOR_SUBMIT, 7) == VENDOR_SUBMIT[:12] + b"\x00\x00\x00\x07" + VENDOR_SUBMIT[16:]
    assert decode(with_sequence(VENDOR_SUBMIT, 7)) == dataclasses.replace(pdu, sequence_number=7)


def test_zero_length_tlv_at_end_and_alone() -> None:
    frame = h("00000019 80000103 00000000 00000001 00 4000 0000 1401 0000")
    pdu = decode(frame)
    assert isinstance(pdu, DataSmResp)
    assert pdu.tlvs == (Tlv(0x4000, b""), Tlv(0x1401, b""))
    assert encode_fields(pdu) == frame


def test_duplicate_tlvs_kept() -> None:
    frame = h("0000001f 80000002 00000000 00000001 534d534300 0210 0001 34 0210 0001 33")
    pdu = decode(frame)
    assert isinstance(pdu, BindTransmitterResp)
    assert pdu.tlvs == (Tlv(0x0210, b"4"), Tlv(0x0210, b"3"))
    assert encode_fields(pdu) == frame


# --- error responses without a body -----------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "cls", "status"),
    [
        (h("00000010 80000004 00000045 00000002"), SubmitSmResp, CommandStatus.ESME_RSUBMITFAIL),
        (h("00000010 80000002 0000000e 00000001"), BindTransmitterResp, CommandStatus.ESME_RINVPASWD),
        (h("00000010 80000001 0000000d 00000001"), BindReceiverResp, CommandStatus.ESME_RBINDFAIL),
        (h("00000010 80000009 0000000f 00000001"), BindTransceiverResp, CommandStatus.ESME_RINVSYSID),
        (h("00000010 80000005 00000064 00000003"), DeliverSmResp, CommandStatus.ESME_RX_T_APPN),
        (h("00000010 80000103 000000fe 00000006"), DataSmResp, CommandStatus.ESME_RDELIVERYFAILURE),
        (h("00000010 80000003 00000067 00000008"), QuerySmResp, CommandStatus.ESME_RQUERYFAIL),
        (h("00000010 80000021 00000045 00000004"), SubmitMultiResp, CommandStatus.ESME_RSUBMITFAIL),
    ],
)
def test_header_only_error_response_decodes(frame: bytes, cls: type[Pdu], status: int) -> None:
    pdu = decode(frame)
    assert type(pdu) is cls
    assert pdu.command_status == status
    assert pdu == cls(sequence_number=parse_header(frame)[3], command_status=status)
    assert encode(pdu) == frame  # forwarded as received, still without a body


def test_submit_multi_resp_without_unsuccess_count() -> None:
    pdu = decode(h("00000013 80000021 00000000 00000004 6d3100"))
    assert pdu == SubmitMultiResp(sequence_number=4, message_id="m1")


# --- malformed input --------------------------------------------------------------------------


def appended(frame: bytes, extra: str) -> bytes:
    """``frame`` with octets added to its body and command_length updated to match."""
    out = frame + h(extra)
    return len(out).to_bytes(4, "big") + out[4:]


@pytest.mark.parametrize(
    ("frame", "status"),
    [
        # bind_transmitter whose system_id never ends: no NUL before the end of the frame
        (h("00000014 00000002 00000000 00000001 65736d65"), CommandStatus.ESME_RINVMSGLEN),
        # submit_sm_resp whose message_id has no NUL
        (h("00000013 80000004 00000000 00000001 616263"), CommandStatus.ESME_RINVMSGLEN),
        # bind_transmitter cut after the password
        (h("00000018 00000002 00000000 00000001 65736d6500 707700"), CommandStatus.ESME_RINVMSGLEN),
        # submit_sm whose sm_length (0x10) runs past the 5 octets that follow
        (GOLDEN_BY_NAME["submit_sm"][:-6] + h("10 68656c6c6f"), CommandStatus.ESME_RINVMSGLEN),
        # replace_sm whose sm_length runs past the body
        (GOLDEN_BY_NAME["replace_sm"][:-4] + h("ff 6e6577"), CommandStatus.ESME_RINVMSGLEN),
        # enquire_link with a body
        (h("00000011 00000015 00000000 00000001 00"), CommandStatus.ESME_RINVMSGLEN),
        # bind_transmitter_resp whose TLV claims 5 octets and has 1
        (h("0000001a 80000002 00000000 00000001 534d534300 0210 0005 34"), CommandStatus.ESME_RINVPARLEN),
        # submit_sm with a TLV length overrunning the body
        (appended(GOLDEN_BY_NAME["submit_sm"], "0424 00ff 41"), CommandStatus.ESME_RINVPARLEN),
        # bind_receiver_resp followed by 3 octets: a truncated TLV header
        (h("00000018 80000001 00000000 00000002 534d534300 021000"), CommandStatus.ESME_RINVOPTPARSTREAM),
        (appended(GOLDEN_BY_NAME["submit_sm"], "04"), CommandStatus.ESME_RINVOPTPARSTREAM),
        # system_id of 16 characters (max 15 + NUL)
        (
            h("00000027 00000002 00000000 00000001 4142434445464748494a4b4c4d4e4f5000 00 00 34 00 00 00"),
            CommandStatus.ESME_RINVSYSID,
        ),
        # password of 9 characters (max 8 + NUL)
        (
            h("00000021 00000009 00000000 00000001 6100 31323334353637383900 00 34 00 00 00"),
            CommandStatus.ESME_RINVPASWD,
        ),
        # submit_sm with a 21-digit source_addr (max 20 + NUL)
        (
            h(
                "00000037 00000004 00000000 00000001 00 01 01 313233343536373839303132333435363738393031 00"
                " 01 01 3100 00 00 00 00 00 00 00 00 00 00"
            ),
            CommandStatus.ESME_RINVSRCADR,
        ),
        # submit_multi with number_of_dests 0
        (
            h(f"00000024 00000021 00000000 00000001 00 01 01 {SHORT} 00 00 00 00 00 00 00 00 00 00 00"),
            CommandStatus.ESME_RINVNUMDESTS,
        ),
        # submit_multi with dest_flag 3
        (
            h(f"00000027 00000021 00000000 00000001 00 01 01 {SHORT} 01 03 3100 {'00' * 10}"),
            CommandStatus.ESME_RINVDESTFLAG,
        ),
    ],
)
def test_malformed_body(frame: bytes, status: int) -> None:
    _, command_id, _, seq = parse_header(frame)
    with pytest.raises(RemoteProtocolError) as info:
        decode(frame)
    error = info.value
    assert error.status == status
    assert error.command_id == command_id
    assert error.sequence_number == seq
    assert not error.fatal


@pytest.mark.parametrize("command_id", [0x00000099, 0x80000099, 0x00000100, 0x0000000A])
def test_unknown_command_id(command_id: int) -> None:
    frame = h(f"00000010 {command_id:08x} 00000000 0000002a")
    with pytest.raises(RemoteProtocolError) as info:
        decode(frame)
    assert info.value.status == CommandStatus.ESME_RINVCMDID
    assert info.value.command_id == command_id
    assert info.value.sequence_number == 42
    assert not info.value.fatal


@pytest.mark.parametrize(
    "frame",
    [
        h("00000011 00000015 00000000 00000007"),  # says 17, is 16
        h("00000010 00000015 00000000 00000007 00"),  # says 16, is 17
        h("00000000 00000015 00000000 00000007"),
        GOLDEN_BY_NAME["submit_sm"][:-1],
    ],
)
def test_command_length_mismatch_is_fatal(frame: bytes) -> None:
    _, command_id, _, seq = parse_header(frame)
    with pytest.raises(RemoteProtocolError) as info:
        decode(frame)
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.fatal
    assert info.value.command_id == command_id
    assert info.value.sequence_number == seq


@pytest.mark.parametrize("frame", [b"", b"\x00\x00\x00\x10", bytes(15)])
def test_shorter_than_header_is_fatal(frame: bytes) -> None:
    with pytest.raises(RemoteProtocolError) as info:
        decode(frame)
    assert info.value.status == CommandStatus.ESME_RINVCMDLEN
    assert info.value.fatal


def test_errors_by_origin() -> None:
    """What the peer sent wrong is a RemoteProtocolError, what we asked wrong a LocalProtocolError;
    ``except ProtocolError`` catches both."""
    with pytest.raises(RemoteProtocolError):
        decode(bytes(8))
    with pytest.raises(LocalProtocolError):
        encode_fields(SubmitSm(service_type="x" * 6))
    assert issubclass(RemoteProtocolError, ProtocolError)
    assert issubclass(LocalProtocolError, ProtocolError)
    assert not issubclass(LocalProtocolError, RemoteProtocolError)


def test_encode_refuses_overlong_fields() -> None:
    with pytest.raises(LocalProtocolError):
        encode_fields(BindTransmitter(system_id="x" * 16))
    with pytest.raises(LocalProtocolError):
        encode_fields(SubmitSm(short_message=bytes(255)))


# --- hypothesis ---------------------------------------------------------------------------------

#: Longest text (without the NUL) per field, from the spec's "Var. max N" sizes.
CSTR_MAX = {
    "system_id": 15,
    "password": 8,
    "system_type": 12,
    "address_range": 40,
    "service_type": 5,
    "source_addr": 20,
    "destination_addr": 20,
    "esme_addr": 64,
    "message_id": 64,
    "schedule_delivery_time": 16,
    "validity_period": 16,
    "final_date": 16,
}
#: data_sm (§4.7.1) and alert_notification (§4.12.1) addresses are Var. max 65.
CSTR_MAX_BY_CLASS = {
    (DataSm, "source_addr"): 64,
    (DataSm, "destination_addr"): 64,
    (AlertNotification, "source_addr"): 64,
}

u8 = st.integers(0, 0xFF)
u32 = st.integers(0, 0xFFFFFFFF)


def cstr(max_chars: int) -> st.SearchStrategy[str]:
    return st.text(st.characters(min_codepoint=1, max_codepoint=0xFF), max_size=max_chars)


dest = st.one_of(
    st.builds(Dest, st.just(1), u8, u8, cstr(20)),
    st.builds(Dest, st.just(2), st.just(0), st.just(0), cstr(20)),
)
tlvs = st.lists(st.builds(Tlv, st.integers(0, 0xFFFF), st.binary(max_size=100)), max_size=5).map(tuple)


def field_strategy(cls: type[Pdu], name: str) -> st.SearchStrategy[Any]:
    if name in ("sequence_number", "command_status"):
        return u32
    if name == "short_message":
        return st.binary(max_size=254)
    if name == "tlvs":
        return tlvs
    if name == "dests":
        return st.lists(dest, min_size=1, max_size=5).map(tuple)
    if name == "unsuccess_smes":
        return st.lists(st.builds(UnsuccessSme, u8, u8, cstr(20), u32), max_size=5).map(tuple)
    if name in CSTR_MAX:
        return cstr(CSTR_MAX_BY_CLASS.get((cls, name), CSTR_MAX[name]))
    return u8  # every other body field is a 1-octet integer


def pdu_strategy(cls: type[Pdu]) -> st.SearchStrategy[Pdu]:
    names = [f.name for f in dataclasses.fields(cls) if f.init]
    return st.builds(cls, **{name: field_strategy(cls, name) for name in names})


ALL_CLASSES = sorted(PDU_CLASSES.values(), key=lambda c: c.command_id)


@pytest.mark.parametrize("cls", ALL_CLASSES, ids=[c.command_id.name.lower() for c in ALL_CLASSES])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_roundtrip_generated_pdus(cls: type[Pdu], data: st.DataObject) -> None:
    pdu = data.draw(pdu_strategy(cls))
    frame = encode_fields(pdu)
    assert parse_header(frame)[0] == len(frame)
    decoded = decode(frame)
    no_body = cls in (SubmitSmResp, DeliverSmResp, DataSmResp) and not getattr(pdu, "tlvs", ())
    if pdu.command_status and no_body:  # an error response is the header alone (§4.4.2, issue 13)
        pdu = dataclasses.replace(pdu, message_id="")  # type: ignore[type-var]
    assert decoded == pdu
    assert type(decoded) is type(pdu)
    assert encode(decoded) == frame
    assert encode_fields(decoded) == frame


def _outcome(frame: bytes) -> object:
    try:
        return decode(frame)
    except RemoteProtocolError as exc:
        return (exc.status, exc.command_id, exc.sequence_number, exc.fatal)
    except Exception as exc:  # anything else is a bug
        pytest.fail(f"decode raised {type(exc).__name__}: {exc} for {frame.hex()}")


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_protocol_error(data: bytes) -> None:
    result = _outcome(data)
    assert isinstance(result, (Pdu, tuple))


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([int(c) for c in CommandId]), u32, u32, st.binary(max_size=200))
def test_valid_header_random_body_decode_or_protocol_error(
    command_id: int, status: int, seq: int, body: bytes
) -> None:
    frame = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big") + status.to_bytes(4, "big")
    frame += seq.to_bytes(4, "big") + body
    result = _outcome(frame)
    if isinstance(result, Pdu):
        assert encode(result) == frame
        assert decode(encode_fields(result)) == result
    else:
        assert isinstance(result, tuple)
        assert result[1:] == (command_id, seq, False)  # the header was readable: it is named


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([CommandId.SUBMIT_SM, CommandId.DELIVER_SM]),
    st.sampled_from([GOLDEN_BY_NAME["submit_sm"], GOLDEN_BY_NAME["deliver_sm"], VENDOR_SUBMIT]).map(
        lambda frame: frame[16:]
    ),
    st.integers(0, 80),
    st.binary(max_size=6),
    st.integers(0, 80),
)
def test_fast_path_agrees_with_table_decoder(
    command_id: int, body: bytes, cut: int, insert: bytes, at: int
) -> None:
    """The hand-written submit_sm/deliver_sm decoder gives the table-driven decoder's answer."""
    body = body[:at] + insert + body[at:]
    body = body[: len(body) - cut] if cut < len(body) else body
    header = (16 + len(body)).to_bytes(4, "big") + command_id.to_bytes(4, "big") + bytes(4)
    frame = header + b"\x00\x00\x00\x01" + body
    fast = _outcome(frame)
    with mock.patch.object(codec, "_FAST", frozenset()):
        slow = _outcome(frame)
    assert fast == slow


def _decode_slow(frame: bytes) -> Pdu:
    """decode() with every fast path switched off: the table-driven decoder, which builds each PDU
    through its dataclass constructor."""
    with mock.patch.object(codec, "_FAST", frozenset()), mock.patch.object(codec, "_FAST_RESP", frozenset()):
        return decode(frame)


def _field_values(pdu: Pdu) -> dict[str, object]:
    """Every dataclass field of ``pdu``, ``raw`` included; a field never set shows as missing."""
    return {f.name: getattr(pdu, f.name, "<unset>") for f in dataclasses.fields(pdu)}


#: The classes a fast path builds with object.__new__, slot by slot (no constructor, no defaults).
FAST_CLASSES = [cls for cls in ALL_CLASSES if cls.command_id in codec._FAST | codec._FAST_RESP]


def test_fast_paths_cover_the_golden_frames() -> None:
    assert {SubmitSm, DeliverSm, SubmitSmResp, DeliverSmResp} <= set(FAST_CLASSES)
    for name in ("submit_sm", "deliver_sm"):
        frame = GOLDEN_BY_NAME[name]
        _, command_id, status, seq = parse_header(frame)
        fast = codec._decode_short_message_fast(PDU_CLASSES[command_id], frame, seq, status)  # type: ignore[arg-type]
        assert fast is not None, f"the golden {name} takes the fast path"


@pytest.mark.parametrize(("name", "frame", "expected"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_decoders_set_every_field(name: str, frame: bytes, expected: Pdu) -> None:
    """For every PDU class, decode() sets exactly the dataclass's fields, each to what the table-driven
    decoder (through the constructor) gives: a field added to a class and forgotten by a fast path fails
    here instead of being silently unset."""
    fast = decode(frame)
    slow = _decode_slow(frame)
    assert type(fast) is type(slow) is type(expected)
    assert _field_values(fast) == _field_values(slow) == {**_field_values(expected), "raw": frame}


@pytest.mark.parametrize("cls", FAST_CLASSES, ids=[c.command_id.name.lower() for c in FAST_CLASSES])
@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_fast_decoders_set_every_field_of_generated_pdus(cls: type[Pdu], data: st.DataObject) -> None:
    frame = encode_fields(data.draw(pdu_strategy(cls)))
    assert _field_values(decode(frame)) == _field_values(_decode_slow(frame))


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([SubmitSm, DeliverSm]).flatmap(pdu_strategy),
    st.binary(max_size=254),
    u8,
    st.one_of(st.none(), u8),
)
def test_with_message_splices_the_frame_encode_fields_would_give(
    pdu: Pdu, short_message: bytes, data_coding: int, esm_class: int | None
) -> None:
    """The copy's frame, spliced from the original (esm_class written in place), is byte for byte the
    frame encoded from its fields: the footer's split parts go out this way."""
    original = decode(encode_fields(pdu))
    assert isinstance(original, (SubmitSm, DeliverSm))
    copy = with_message(original, short_message, data_coding, esm_class=esm_class, tlvs=original.tlvs)
    assert copy.raw, "the copy keeps a frame"
    assert copy.raw == encode_fields(copy, original.sequence_number)
    # Every other field is carried over (with_message names them one by one, for speed).
    expected = dataclasses.replace(
        original,
        short_message=short_message,
        data_coding=data_coding,
        esm_class=original.esm_class if esm_class is None else esm_class,
    )
    assert {**_field_values(copy), "raw": b""} == _field_values(expected)
    assert decode(copy.raw) == copy
    assert (copy.esm_class, copy.data_coding) == (
        original.esm_class if esm_class is None else esm_class,
        data_coding,
    )
