"""What the simulated SMSC holds: its sessions, the submits it received, and the names it uses."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from gateway.proxy.link import Link
from gateway.smpp.constants import BindMode, CommandStatus, EsmClass
from gateway.smpp.pdu import DataSm, SubmitMulti, SubmitSm, message_text_bytes
from gateway.smpp.states import State
from gateway.text.encoding import decode_text
from gateway.text.udh import split_udh

__all__ = [
    "COUNTER_NAME",
    "MODE_NAMES",
    "SMSC_SYSTEM_ID",
    "NoReceiverError",
    "Received",
    "RoundRobin",
    "Session",
    "SubmitPdu",
    "strip_udh",
]

#: The system_id the simulator puts in its bind responses.
SMSC_SYSTEM_ID: Final = "smscsim"
BOUND_STATES: Final = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
MODE_NAMES: Final = {
    BindMode.TRANSMITTER: "transmitter",
    BindMode.RECEIVER: "receiver",
    BindMode.TRANSCEIVER: "transceiver",
}

SubmitPdu = SubmitSm | SubmitMulti | DataSm
#: The :attr:`SimulatedSmsc.counters` key each kind of submit is counted under.
COUNTER_NAME: Final[dict[type, str]] = {
    SubmitSm: "submit_sm",
    SubmitMulti: "submit_multi",
    DataSm: "data_sm",
}

T = TypeVar("T")


class NoReceiverError(RuntimeError):
    """No bound receiver or transceiver session (of the requested system_id) to deliver to."""


@dataclass(slots=True, eq=False)
class Received:
    """One submit_sm, submit_multi or data_sm as it arrived, and how the simulator answered it."""

    #: system_id of the session that sent it.
    system_id: str
    pdu: SubmitPdu
    #: The message id given in the response; "" when the request was refused or not answered.
    message_id: str
    #: command_status of the answer; None when it was not answered (stalled).
    status: int | None
    #: The answer was a generic_nack (``status`` holds its command_status).
    generic_nack: bool = False
    #: :attr:`Session.id` of the session that sent it.
    session_id: int = 0

    @property
    def accepted(self) -> bool:
        return self.status == CommandStatus.ESME_ROK and not self.generic_nack

    @property
    def destinations(self) -> tuple[str, ...]:
        pdu = self.pdu
        if isinstance(pdu, SubmitMulti):
            return tuple(dest.address for dest in pdu.dests)
        return (pdu.destination_addr,)

    @property
    def destination_addr(self) -> str:
        return self.destinations[0] if self.destinations else ""

    @property
    def source_addr(self) -> str:
        return self.pdu.source_addr

    @property
    def payload(self) -> bytes:
        """The message octets (short_message or message_payload) without any UDH."""
        return strip_udh(self.pdu.esm_class, message_text_bytes(self.pdu))

    @property
    def text(self) -> str:
        """The message text decoded by its data_coding, without any UDH."""
        return decode_text(self.payload, self.pdu.data_coding)

    def summary(self) -> dict[str, Any]:
        return {
            "system_id": self.system_id,
            "command": self.pdu.command_id.name.lower(),
            "source_addr": self.source_addr,
            "destinations": list(self.destinations),
            "data_coding": self.pdu.data_coding,
            "esm_class": self.pdu.esm_class,
            "text": self.text,
            "message_id": self.message_id,
            "status": self.status,
            "generic_nack": self.generic_nack,
        }


@dataclass(slots=True, eq=False)
class Session:
    """One accepted connection; ``mode`` is set once a bind succeeded."""

    id: int
    peer: str
    link: Link
    system_id: str = ""
    mode: BindMode | None = None
    connected_at: float = 0.0

    @property
    def bound(self) -> bool:
        return self.mode is not None and not self.link.closed and self.link.conn.state in BOUND_STATES

    @property
    def can_receive(self) -> bool:
        return self.bound and self.link.conn.state in (State.BOUND_RX, State.BOUND_TRX)

    @property
    def mode_name(self) -> str:
        return MODE_NAMES[self.mode] if self.mode is not None else "open"

    def summary(self) -> dict[str, Any]:
        return {"id": self.id, "peer": self.peer, "system_id": self.system_id, "mode": self.mode_name}


class RoundRobin:
    """Picks among candidate sessions in turn. Receipts and MO messages share one, as they share the
    receive-capable sessions they are spread over."""

    def __init__(self) -> None:
        self.turn = 0

    def pick(self, candidates: Sequence[T]) -> T:
        self.turn += 1
        return candidates[self.turn % len(candidates)]


def strip_udh(esm_class: int, data: bytes) -> bytes:
    """``data`` without its user data header, when esm_class says it has one (and it parses)."""
    if esm_class & EsmClass.UDHI:
        with contextlib.suppress(ValueError):
            return split_udh(data)[1]
    return data
