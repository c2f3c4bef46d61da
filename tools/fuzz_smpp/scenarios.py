"""Connections in every session state, in both roles, for the fuzzer to feed: each
:data:`SCENARIOS` entry builds a fresh one."""

from __future__ import annotations

from collections.abc import Callable

from gateway.smpp.codec import encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.pdu import (
    Bind,
    BindReceiver,
    BindReceiverResp,
    BindResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSm,
    EnquireLink,
    Pdu,
    SubmitSm,
    Unbind,
    UnbindResp,
)
from gateway.smpp.states import Role, State


def _frame(pdu: Pdu) -> bytes:
    return encode_fields(pdu)


_BIND_RESP: dict[type[Bind], type[BindResp]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
}


def _bound(role: Role, bind: type[Bind]) -> Connection:
    conn = Connection(role)
    if role is Role.ESME:
        seq = conn.send_request(bind(system_id="esme"), 0.0)
        conn.receive_data(_frame(_BIND_RESP[bind](sequence_number=seq)), 0.0)
        events = list(conn.events())
    else:
        conn.receive_data(_frame(bind(sequence_number=1, system_id="esme")), 0.0)
        events = list(conn.events())
        conn.send_response(_BIND_RESP[bind](sequence_number=1, system_id="SMSC"))
    assert len(events) == 1 and conn.state.name.startswith("BOUND"), (events, conn.state)
    conn.data_to_send()
    return conn


def _with_outstanding(conn: Connection) -> Connection:
    """Leave requests waiting (sequence 2, 3) so that fuzzed responses can meet them."""
    conn.send_request(EnquireLink(), 0.0)
    if conn.role is Role.ESME and conn.state in (State.BOUND_TX, State.BOUND_TRX):
        conn.send_request(SubmitSm(destination_addr="447700900123", short_message=b"x"), 0.0, relay=True)
    elif conn.role is Role.SMSC and conn.state in (State.BOUND_RX, State.BOUND_TRX):
        conn.send_request(DeliverSm(source_addr="447700900123", short_message=b"x"), 0.0, relay=True)
    conn.data_to_send()
    return conn


def _esme_bind_pending() -> Connection:
    conn = Connection(Role.ESME)
    conn.send_request(BindTransceiver(system_id="esme"), 0.0)
    conn.data_to_send()
    return conn


def _unbinding_ours(role: Role) -> Connection:
    conn = _with_outstanding(_bound(role, BindTransceiver))
    conn.send_request(Unbind(), 0.0)
    conn.data_to_send()
    return conn


def _unbinding_peer(role: Role) -> Connection:
    conn = _bound(role, BindTransceiver)
    conn.receive_data(_frame(Unbind(sequence_number=7)), 0.0)
    events = list(conn.events())
    assert conn.state is State.UNBINDING, events
    return conn


def _closed(role: Role) -> Connection:
    conn = _unbinding_peer(role)
    conn.send_response(UnbindResp(sequence_number=7))
    conn.data_to_send()
    assert conn.state is State.CLOSED
    return conn


SCENARIOS: dict[str, Callable[[], Connection]] = {
    "esme/open": lambda: Connection(Role.ESME),
    "esme/bind-pending": _esme_bind_pending,
    "esme/bound_tx": lambda: _with_outstanding(_bound(Role.ESME, BindTransmitter)),
    "esme/bound_rx": lambda: _with_outstanding(_bound(Role.ESME, BindReceiver)),
    "esme/bound_trx": lambda: _with_outstanding(_bound(Role.ESME, BindTransceiver)),
    "esme/unbinding-ours": lambda: _unbinding_ours(Role.ESME),
    "esme/unbinding-peer": lambda: _unbinding_peer(Role.ESME),
    "esme/closed": lambda: _closed(Role.ESME),
    "smsc/open": lambda: Connection(Role.SMSC),
    "smsc/bound_tx": lambda: _with_outstanding(_bound(Role.SMSC, BindTransmitter)),
    "smsc/bound_rx": lambda: _with_outstanding(_bound(Role.SMSC, BindReceiver)),
    "smsc/bound_trx": lambda: _with_outstanding(_bound(Role.SMSC, BindTransceiver)),
    "smsc/unbinding-ours": lambda: _unbinding_ours(Role.SMSC),
    "smsc/unbinding-peer": lambda: _unbinding_peer(Role.SMSC),
    "smsc/closed": lambda: _closed(Role.SMSC),
}
