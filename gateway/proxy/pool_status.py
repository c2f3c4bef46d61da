"""What the upstream connectors report about themselves (``GET /v1/upstreams``, the console, metrics).

Plain data, taken as a snapshot by :meth:`gateway.proxy.server.Proxy.upstream_status`: readers never
hold a reference into a live connector.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: A bind's state: ``bound`` (can carry traffic), ``connecting`` (connect/bind under way, or waiting
#: out its reconnect back-off), ``down`` (closed and not being retried, e.g. removed by a reload).
BindState = Literal["bound", "connecting", "down"]

#: An upstream's health as routing reads it: ``bound`` (every bind bound, circuit closed),
#: ``degraded`` (some binds bound, or the circuit half-open), ``down`` (no bind bound, or the circuit
#: open after repeated errors or timeouts).
Health = Literal["bound", "degraded", "down"]


@dataclass(frozen=True, slots=True)
class BindStatus:
    index: int
    #: transceiver | transmitter | receiver
    mode: str
    state: BindState
    #: Unix time of the last state change.
    since: float
    #: Requests sent on this bind and not yet answered.
    in_flight: int


@dataclass(frozen=True, slots=True)
class UpstreamStatus:
    name: str
    health: Health
    #: Unix time of the last health change.
    since: float
    binds: tuple[BindStatus, ...]
    #: Submits sent per second, averaged over the last few seconds.
    tps: float
    #: The configured ``max_tps`` (None: unlimited).
    max_tps: float | None
    #: closed | open | half_open (see the circuit breaker).
    breaker: str
    submits: int
    errors: int
    throttled: int
    failovers: int
    #: True when Stopgate holds this upstream's binds (routes configured); False in per-session mode,
    #: where each ESME session has its own bind (``binds`` then lists those sessions' links).
    pooled: bool
