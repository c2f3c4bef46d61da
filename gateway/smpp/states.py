"""The session state table (§2.2, §2.3): who we are, which bind state we are in, and which requests each
side may send in each state. Rule 1, as in h11's ``_state.py``: everything that decides whether a
request is allowed lives here, as data; :class:`gateway.smpp.connection.Connection` only looks it up.
"""

from __future__ import annotations

import enum
from typing import Final

from .constants import BIND_COMMANDS, BindMode, CommandId


class Role(enum.Enum):
    """Which end of the session we are."""

    #: We connected and bind to the peer (the peer is an SMSC).
    ESME = "esme"
    #: We accepted the connection and the peer binds to us (the peer is an ESME).
    SMSC = "smsc"

    # Members are singletons compared by identity: hash them so too, in C (Enum's own __hash__ is
    # Python code, and (role, state) keys are looked up for every PDU).
    __hash__ = object.__hash__


class State(enum.Enum):
    """Session states, §2.2."""

    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"

    __hash__ = object.__hash__  # as Role's


BOUND_STATE: Final = {
    BindMode.TRANSMITTER: State.BOUND_TX,
    BindMode.RECEIVER: State.BOUND_RX,
    BindMode.TRANSCEIVER: State.BOUND_TRX,
}

C = CommandId
_ESME_TO_SMSC_TX = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM, C.QUERY_SM, C.CANCEL_SM, C.REPLACE_SM})
_SMSC_TO_ESME_RX = frozenset({C.DELIVER_SM, C.DATA_SM, C.ALERT_NOTIFICATION})
_ALWAYS = frozenset({C.ENQUIRE_LINK, C.UNBIND})

#: Rule 1 (as in h11's _state.py): which requests the *peer* may send, by our role and state (§2.3).
#: Anything else is answered with ESME_RINVBNDSTS (or ESME_RALYBND for a second bind).
PEER_REQUESTS: Final[dict[tuple[Role, State], frozenset[CommandId]]] = {
    (Role.SMSC, State.OPEN): BIND_COMMANDS | {C.ENQUIRE_LINK},
    (Role.SMSC, State.BOUND_TX): _ESME_TO_SMSC_TX | _ALWAYS,
    (Role.SMSC, State.BOUND_RX): _ALWAYS,
    (Role.SMSC, State.BOUND_TRX): _ESME_TO_SMSC_TX | _ALWAYS,
    (Role.SMSC, State.UNBINDING): frozenset({C.UNBIND}),
    (Role.ESME, State.OPEN): frozenset({C.OUTBIND, C.ENQUIRE_LINK}),
    (Role.ESME, State.BOUND_TX): _ALWAYS,
    (Role.ESME, State.BOUND_RX): _SMSC_TO_ESME_RX | _ALWAYS,
    (Role.ESME, State.BOUND_TRX): _SMSC_TO_ESME_RX | _ALWAYS,
    (Role.ESME, State.UNBINDING): frozenset({C.UNBIND}),
    # After unbind_resp nothing more is allowed (the caller closes); still answered, never a KeyError.
    (Role.SMSC, State.CLOSED): frozenset(),
    (Role.ESME, State.CLOSED): frozenset(),
}
#: Which requests *we* may send, by our role and state: the mirror image of PEER_REQUESTS.
OWN_REQUESTS: Final[dict[tuple[Role, State], frozenset[CommandId]]] = {
    (Role.ESME, State.OPEN): BIND_COMMANDS | {C.ENQUIRE_LINK},
    (Role.ESME, State.BOUND_TX): _ESME_TO_SMSC_TX | _ALWAYS,
    (Role.ESME, State.BOUND_RX): _ALWAYS,
    (Role.ESME, State.BOUND_TRX): _ESME_TO_SMSC_TX | _ALWAYS,
    (Role.ESME, State.UNBINDING): frozenset(),
    (Role.SMSC, State.OPEN): frozenset({C.OUTBIND, C.ENQUIRE_LINK}),
    (Role.SMSC, State.BOUND_TX): _ALWAYS,
    (Role.SMSC, State.BOUND_RX): _SMSC_TO_ESME_RX | _ALWAYS,
    (Role.SMSC, State.BOUND_TRX): _SMSC_TO_ESME_RX | _ALWAYS,
    (Role.SMSC, State.UNBINDING): frozenset(),
    (Role.ESME, State.CLOSED): frozenset(),
    (Role.SMSC, State.CLOSED): frozenset(),
}


def peer_requests(role: Role) -> dict[State, frozenset[CommandId]]:
    """``role``'s rows of :data:`PEER_REQUESTS`, by state."""
    return {state: PEER_REQUESTS[(role, state)] for state in State}


def own_requests(role: Role) -> dict[State, frozenset[CommandId]]:
    """``role``'s rows of :data:`OWN_REQUESTS`, by state."""
    return {state: OWN_REQUESTS[(role, state)] for state in State}
