"""What an ESME session needs from the proxy that runs it (the :class:`~.server.Proxy` provides it).

The session depends on this small interface, not on the server module, so the server can import the
session without the session importing the server back.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from gateway.config import AccountConfig, Config, UpstreamConfig
from gateway.policy.decisions import Policy
from gateway.smpp.errors import ProtocolError
from gateway.smpp.pdu import Pdu

from .link import Link


class MoReceiver(Protocol):
    """A bound session that can take MOs routed to its account from another session's bind."""

    async def deliver_mo(self, pdu: Pdu) -> Pdu:
        """Send ``pdu`` down to the ESME and return its answer (an error status if none came)."""
        ...


class SessionHost(Protocol):
    config: Config
    policy: Policy
    log: Any
    #: The one clock of the proxy: every deadline and duration is measured with it.
    clock: Callable[[], float]
    #: Observes the sampled time a relayed submit spends inside the proxy (a Histogram), if set.
    latency_histogram: Any
    #: Pooled mode (routes configured): the pools submits are routed over; None: per-session binds.
    router: Any

    async def authenticate(self, bind: Pdu, peer: str) -> tuple[int, AccountConfig | None]:
        """Check a bind's credentials; reserves a session slot on success."""
        ...

    def locked_out(self, peer: str, system_id: str) -> bool:
        """Whether ``peer`` is locked out of ``system_id`` after too many failed binds."""
        ...

    def release_session_slot(self, account: AccountConfig) -> None: ...

    def session_bound(self, account: AccountConfig) -> None:
        """A session of ``account`` is bound (the host learns of its end when the session returns)."""
        ...

    async def connect_upstream(self, upstream: UpstreamConfig, log: Any) -> Link:
        """A connected (not yet running, not bound) link to ``upstream``; raises BindFailed."""
        ...

    async def service_request(
        self, upstream_name: str, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None
    ) -> Pdu:
        """Send ``pdu`` through the proxy's own transmitter bind to ``upstream_name``."""
        ...

    def rejected(self, leg: str, error: ProtocolError) -> None:
        """Count a PDU the core rejected on ``leg`` ("esme" or "upstream")."""
        ...

    def mo_receiver(self, system_id: str, prefer: str | None = None) -> MoReceiver | None:
        """Session ``prefer`` if it can receive, else the next receiver of ``system_id``
        (round-robin); None if none is bound."""
        ...
