"""One bind of an upstream pool (pooled mode): connect, bind, serve, and on loss reconnect with
back-off, forever until the pool closes.

Requests relayed on a pool bind carry a :class:`PoolRelay` context: the ESME session that asked
and the context it would have used on a bind of its own (its sequence number, a
:class:`~.relay.RelayContext` or :class:`~.relay.Parts`), so that each answer finds its way back.
"""

from __future__ import annotations

import time
from typing import Any

import anyio

from gateway.policy.routes import RouteRule
from gateway.smpp.constants import BindMode
from gateway.smpp.pdu import Pdu
from gateway.smpp.states import State

from .link import Link
from .pool_status import BindState, BindStatus
from .upstream import BindFailed, ReconnectBackoff, bind_upstream, connect_upstream

#: The states a bind can carry submits in.
TRANSMITTING = (State.BOUND_TX, State.BOUND_TRX)
MODES = {
    "transceiver": BindMode.TRANSCEIVER,
    "transmitter": BindMode.TRANSMITTER,
    "receiver": BindMode.RECEIVER,
}


class Retry:
    """What a request on a ``failover`` route keeps to be tried once on the next upstream when the
    SMSC refuses it with an explicit temporary status (never when no answer came)."""

    __slots__ = ("frame", "on_response", "pdu", "rule", "tried")

    def __init__(self, pdu: Pdu, frame: bytes | None, on_response: Any, rule: RouteRule, tried: str) -> None:
        self.pdu = pdu
        self.frame = frame
        self.on_response = on_response
        self.rule = rule
        self.tried = tried


class PoolRelay:
    """Context of a request relayed on a pool bind: who asked, and with what context."""

    __slots__ = ("context", "pool", "retry", "route", "session")

    def __init__(
        self, session: Any, context: object, pool: Any, route: str, retry: Retry | None = None
    ) -> None:
        self.session = session
        self.context = context
        self.pool = pool
        #: The name of the route that chose the upstream ("" for a request no route chose).
        self.route = route
        self.retry = retry


class PoolBind:
    """A bind Stopgate holds to an upstream on behalf of every ESME session routed to it."""

    def __init__(self, pool: Any, index: int) -> None:
        self.pool = pool
        self.index = index
        self.mode = MODES[pool.config.bind_mode]
        self.link: Link | None = None
        self.state: BindState = "connecting"
        self.since = time.time()
        self.log = pool.log.bind(bind=index)

    @property
    def usable(self) -> Link | None:
        """The link when it is bound and can carry submits."""
        link = self.link
        if link is None or link.closed or not self.mode.can_transmit or link.conn.state not in TRANSMITTING:
            return None
        return link

    def _set(self, state: BindState) -> None:
        if state != self.state:
            self.state = state
            self.since = time.time()
            self.pool.bind_changed()

    async def run(self) -> None:
        pool = self.pool
        config = pool.config
        proxy = pool.proxy
        backoff = ReconnectBackoff(config.reconnect_backoff_initial, config.reconnect_backoff_max)
        try:
            while not pool.closing:
                await anyio.sleep(backoff.wait(proxy.clock()))
                started = proxy.clock()
                try:
                    link = await connect_upstream(
                        config,
                        proxy.config.session,
                        log=self.log.bind(leg="upstream"),
                        pdu_counts=proxy.pdu_counts,
                        clock=proxy.clock,
                    )
                except BindFailed as exc:
                    delay = backoff.failed(started, proxy.clock())
                    self.log.info("pool bind connect failed", error=str(exc), retry_in=round(delay, 3))
                    continue
                served = False
                try:
                    served = await self._serve(link)
                except* Exception:  # a bug met on one bind closes that bind, never the proxy
                    self.log.error("pool bind failed with an internal error; reconnecting", exc_info=True)
                    with anyio.CancelScope(shield=True):
                        await link.close("internal error")
                    self.link = None
                    self._set("connecting")
                if served:
                    backoff.succeeded()
                else:
                    backoff.failed(started, proxy.clock())
        finally:
            self.link = None
            self._set("down")

    async def _serve(self, link: Link) -> bool:
        """Bind and serve ``link`` until it is lost; False when the bind itself failed."""
        pool = self.pool
        async with anyio.create_task_group() as tg:
            tg.start_soon(link.run, self._on_event)
            try:
                await bind_upstream(link, pool.config, self.mode)
            except BindFailed as exc:
                self.log.warning("pool bind refused", error=str(exc))
                await link.close("bind failed")
                return False
            if pool.closing:
                await link.unbind(1.0)
                return True
            self.link = link
            self._set("bound")
            self.log.info("pool bind up", mode=self.mode.name.lower())
            await link.wait_closed()
        self.link = None
        self._set("connecting")
        if not pool.closing:
            self.log.warning("pool bind lost; reconnecting", reason=link.close_reason)
        return True

    def _on_event(self, link: Link, event: Any) -> None:
        self.pool.router.events.on_event(self.pool, link, event)

    async def close(self) -> None:
        link = self.link
        if link is not None:
            await link.wait_answered(1.0)
            await link.unbind(1.0)

    def status(self) -> BindStatus:
        link = self.link
        in_flight = link.conn.outstanding if link is not None and not link.closed else 0
        return BindStatus(self.index, self.mode.name.lower(), self.state, self.since, in_flight)
