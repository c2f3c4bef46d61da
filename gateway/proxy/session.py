"""One ESME session and the upstream session held for it.

Requests are relayed with their sequence numbers remapped on each leg: the core numbers what we send
and hands back, with the response, the context we gave it (here the other leg's sequence number).
Responses nobody needs to read come back as frames (``Relayed``) and leave undecoded.
Keep-alives are answered by each link itself. Message-carrying requests pass through the policy.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc

from gateway.config import AccountConfig
from gateway.policy.decisions import Decision, Defer, Forward, ForwardParts, Respond
from gateway.smpp.constants import (
    SMPP_VERSION_34,
    BindMode,
    CommandId,
    CommandStatus,
    Tag,
)
from gateway.smpp.errors import PduTooLarge
from gateway.smpp.events import Rejected, Relayed, Request, Response
from gateway.smpp.fields import Tlv
from gateway.smpp.pdu import Pdu, make_response
from gateway.smpp.states import State

from .link import Expired, Link
from .mo_delivery import forward_across, request_esme
from .parts import SplitSender
from .relay import LATENCY_SAMPLE, Parts, RelayContext, answer_unanswered, relay_response
from .session_close import shutdown, upstream_unbind
from .session_host import SessionHost
from .upstream import BindFailed, bind_upstream

C = CommandId
_SUBMITS = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM})
_DELIVERS = frozenset({C.DELIVER_SM, C.DATA_SM})
_BINDS = frozenset({C.BIND_TRANSMITTER, C.BIND_RECEIVER, C.BIND_TRANSCEIVER})


class EsmeSession:
    """An accepted ESME connection: bind, relay both ways, unbind."""

    def __init__(self, proxy: SessionHost, esme: Link, peer: str) -> None:
        self.proxy = proxy
        self.esme = esme
        self.peer = peer
        self.session_id = uuid.uuid4().hex[:12]
        self.upstream: Link | None = None
        self._account: AccountConfig | None = None
        self._bind_mode: BindMode | None = None
        self._binding = False
        self._closing = False
        self._tg: anyio.abc.TaskGroup | None = None
        self.log = proxy.log.bind(session=self.session_id, peer=peer)
        esme.log = self.log.bind(leg="esme")
        #: The ESME-facing window: requests in flight to the ESME at most ([session].window).
        self.window = proxy.config.session.window
        #: Requests in flight to the SMSC at most: the upstream's ``window`` once bound (until then
        #: [session].window, which is also what an upstream's window defaults to).
        self.upstream_window = proxy.config.session.window
        self._relayed = 0
        self._on_submit = proxy.policy.on_submit
        #: Pooled mode (routes configured): submits go through the proxy's pools, not a bind of ours.
        self.router = proxy.router
        #: (account, session id) once bound: who sent a message, for its receipts (pooled mode).
        self.owner: tuple[str, str] | None = None
        self.parts = SplitSender(esme, lambda: self.upstream, lambda: self.log, self._spawn)

    # --- SessionInfo (what a policy sees) ---------------------------------------------------------

    @property
    def account(self) -> AccountConfig:
        assert self._account is not None
        return self._account

    @property
    def bind_mode(self) -> BindMode:
        assert self._bind_mode is not None
        return self._bind_mode

    @property
    def bound(self) -> bool:
        return self._account is not None

    async def transmit(self, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None) -> Pdu:
        """Send a request upstream through a transmit-capable bind (ours, or the proxy's own)."""
        if self.router is not None:
            pooled: Pdu = await self.router.transmit(self.account, pdu, on_response, self.owner)
            return pooled
        upstream = self.upstream
        timeout = self.proxy.config.session.response_timeout
        if upstream is not None and not upstream.closed and self.bind_mode.can_transmit:
            return await upstream.request(pdu, timeout, on_response)
        return await self.proxy.service_request(self.account.upstream, pdu, on_response)

    async def send_to_esme(self, pdu: Pdu) -> Pdu | None:
        if self._bind_mode is None or not self._bind_mode.can_receive or self.esme.closed:
            return None
        return await self.esme.request(pdu, self.proxy.config.session.response_timeout)

    # --- lifecycle --------------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            async with anyio.create_task_group() as tg:
                self._tg = tg
                tg.start_soon(self._bind_deadline)
                await self.esme.run(self._on_esme)
                self._closing = True
                if self.upstream is not None and not self.upstream.closed:
                    await self.upstream.unbind(self.proxy.config.session.response_timeout)
                tg.cancel_scope.cancel()
        finally:
            self.log.info("session ended", reason=self.esme.close_reason)

    async def _bind_deadline(self) -> None:
        await anyio.sleep(self.proxy.config.session.bind_timeout)
        if not self.bound and not self._binding:
            self.log.info("no bind in time, closing")
            await self.esme.close("bind timeout")

    async def shutdown(self, grace: float) -> None:
        """Graceful stop: unbind the ESME, let in-flight responses arrive (bounded), unbind upstream."""
        self._closing = True
        await shutdown(self, grace)

    # --- binding ----------------------------------------------------------------------------------

    async def _bind(self, request: Pdu) -> None:
        proxy = self.proxy
        status, account = await proxy.authenticate(request, self.peer)
        if account is None:
            self.esme.reject(request, status)
            self._binding = False
            if proxy.locked_out(self.peer, getattr(request, "system_id", "")):
                await self.esme.wait_flushed(1.0)
                await self.esme.close("locked out")
            return
        mode = BindMode(request.command_id)
        if self.router is not None:
            self._bound(request, account, mode, "stopgate", self.log.bind(account=account.system_id))
            return
        upstream_cfg = proxy.config.upstreams[account.upstream]
        log = self.log.bind(account=account.system_id, upstream=upstream_cfg.name)
        try:
            link = await proxy.connect_upstream(upstream_cfg, log.bind(leg="upstream"))
        except BindFailed as exc:
            log.warning("upstream unreachable", error=str(exc))
            self._bind_failed(request, account)
            return
        self.upstream = link
        assert self._tg is not None
        self._tg.start_soon(self._run_upstream, link)
        try:
            resp = await bind_upstream(link, upstream_cfg, mode)
        except BindFailed as exc:
            log.warning("upstream bind failed", error=str(exc))
            await link.close("bind failed")
            self.upstream = None
            self._bind_failed(request, account)
            return
        if self.esme.closed:
            await link.unbind(1.0)
            return
        self.upstream_window = upstream_cfg.window
        self._bound(request, account, mode, getattr(resp, "system_id", "") or upstream_cfg.name, log)

    def _bound(self, request: Pdu, account: AccountConfig, mode: BindMode, system_id: str, log: Any) -> None:
        self._account, self._bind_mode = account, mode
        self.owner = (account.system_id, self.session_id)
        self.log = log
        self.esme.log = log.bind(leg="esme")
        self.proxy.session_bound(account)
        self.esme.respond(
            make_response(
                request,
                system_id=system_id[:15],
                tlvs=(Tlv(Tag.SC_INTERFACE_VERSION, bytes((SMPP_VERSION_34,))),),
            )
        )
        self._binding = False
        log.info("bound", mode=mode.name.lower())

    def _bind_failed(self, request: Pdu, account: AccountConfig) -> None:
        self.proxy.release_session_slot(account)
        self.esme.reject(request, CommandStatus.ESME_RBINDFAIL)
        self._binding = False

    async def _run_upstream(self, link: Link) -> None:
        await link.run(self._on_upstream)
        if self.upstream is link and not self._closing and not self.esme.closed:
            self.log.warning("upstream lost, closing the ESME session", reason=link.close_reason)
            self._closing = True
            await self.esme.unbind(1.0)

    # --- ESME → upstream --------------------------------------------------------------------------

    def _on_esme(self, link: Link, event: Any) -> None:
        event_type = type(event)
        if event_type is Relayed:  # deliver_sm_resps
            upstream = self.upstream
            if upstream is not None:
                upstream.relay_responses(event)
        elif event_type is Request:
            pdu: Pdu = event.pdu
            command_id = pdu.command_id
            if command_id in _SUBMITS:
                self._decide_up(self._on_submit(self, pdu), pdu)
            elif command_id in _BINDS:
                if self._binding:
                    link.reject(pdu, CommandStatus.ESME_RALYBND)
                else:
                    self._binding = True
                    self._spawn(self._bind, pdu)
            elif command_id == C.UNBIND:
                self._spawn(self._esme_unbind, pdu)
            else:  # query_sm, cancel_sm, replace_sm
                self._forward_up(pdu, pdu.sequence_number, None)
        elif event_type is Response:
            relay_response(self.upstream, event.pdu, event.context)
        elif event_type is Expired:
            answer_unanswered(self.upstream, event, CommandStatus.ESME_RX_T_APPN, self.log)
        elif event_type is Rejected:
            self.proxy.rejected("esme", event.error)

    def _decide_up(self, decision: Decision, pdu: Pdu) -> None:
        decision_type = type(decision)
        if decision_type is Forward:
            self._forward_up(
                decision.pdu,  # type: ignore[union-attr]
                pdu.sequence_number,
                decision.on_response,  # type: ignore[union-attr]
                decision.frame,  # type: ignore[union-attr]
            )
        elif decision_type is Respond:
            self.esme.respond(decision.pdu, pdu.sequence_number)  # type: ignore[union-attr]
        elif decision_type is ForwardParts:
            if self.router is not None:
                self.router.send_parts(self, Parts(decision, pdu))  # type: ignore[arg-type]
                return
            upstream = self.upstream
            if upstream is not None and upstream.conn.outstanding >= self.upstream_window:
                self.esme.respond(make_response(pdu, CommandStatus.ESME_RTHROTTLED), pdu.sequence_number)
            else:
                self.parts.send(Parts(decision, pdu))  # type: ignore[arg-type]
        else:
            self._spawn(self._deferred, decision, pdu, True)

    def _forward_up(self, pdu: Pdu, esme_sequence: int, on_response: Any, frame: bytes | None = None) -> None:
        if self.router is not None:
            self.router.forward(self, pdu, esme_sequence, on_response, frame)
            return
        upstream = self.upstream
        if upstream is None or upstream.closed or upstream.conn.state not in _BOUND:
            self.esme.respond(make_response(pdu, CommandStatus.ESME_RSYSERR), esme_sequence)
            return
        if upstream.conn.outstanding >= self.upstream_window:
            self.esme.respond(make_response(pdu, CommandStatus.ESME_RTHROTTLED), esme_sequence)
            return
        self._relayed += 1
        try:
            if on_response is None and self._relayed % LATENCY_SAMPLE:
                upstream.send_nowait(pdu, esme_sequence, frame, relay=True)
                return
            sampled = not self._relayed % LATENCY_SAMPLE  # one in 64, whether or not a callback is set
            relay = RelayContext(esme_sequence, on_response, self.esme.conn.last_received if sampled else 0.0)
            upstream.send_nowait(pdu, relay, frame)
        except PduTooLarge as exc:  # e.g. grown by the footer: the SMSC would drop the whole session
            self.log.warning("request too large to relay", error=str(exc))
            self.esme.respond(make_response(pdu, CommandStatus.ESME_RINVMSGLEN), esme_sequence)
            return
        relay.forwarded = upstream.clock()

    async def _esme_unbind(self, request: Pdu) -> None:
        self._closing = True
        upstream = self.upstream
        if upstream is not None:
            await upstream.wait_answered(self.proxy.config.session.shutdown_grace)
            await upstream.unbind(self.proxy.config.session.response_timeout)
        elif self.router is not None:  # the binds are shared: wait for this session's answers only
            with anyio.move_on_after(self.proxy.config.session.shutdown_grace):
                while self.router.in_flight(self):
                    await anyio.sleep(0.02)
        self.esme.answer_unbind(request)
        await self.esme.wait_flushed(1.0)
        await self.esme.close("unbound by ESME")

    # --- upstream → ESME --------------------------------------------------------------------------

    def upstream_response(self, link: Link, event: Response) -> None:
        """An answer to this session's request, from a pool bind (pooled mode)."""
        self._on_upstream(link, event)

    def _on_upstream(self, link: Link, event: Any) -> None:
        event_type = type(event)
        if event_type is Relayed:  # submit_sm_resps
            self.esme.relay_responses(event)
        elif event_type is Response:
            if type(event.context) is Parts:
                self.parts.answered(event.context, event.pdu)
            else:
                relay_response(self.esme, event.pdu, event.context, link, self.proxy.latency_histogram)
        elif event_type is Request:
            pdu: Pdu = event.pdu
            command_id = pdu.command_id
            if command_id in _DELIVERS:
                self._decide_down(self.proxy.policy.on_deliver(self, pdu), pdu)
            elif command_id == C.UNBIND:
                self._spawn(self._upstream_unbind, pdu)
            elif command_id == C.ALERT_NOTIFICATION:
                if not self.esme.closed and self.esme.conn.state in (State.BOUND_RX, State.BOUND_TRX):
                    self.esme.send_nowait(pdu)
            else:
                link.reject(pdu, CommandStatus.ESME_RINVCMDID)
        elif event_type is Expired:
            answer_unanswered(self.esme, event, CommandStatus.ESME_RSYSERR, self.log)
        elif event_type is Rejected:
            self.proxy.rejected("upstream", event.error)

    def _decide_down(self, decision: Decision, pdu: Pdu) -> None:
        decision_type = type(decision)
        if decision_type is Forward:
            if decision.account is not None:  # type: ignore[union-attr]
                self._route_down(decision, pdu.sequence_number)  # type: ignore[arg-type]
            else:
                self._forward_down(decision.pdu, pdu.sequence_number, decision.on_response)  # type: ignore[union-attr]
        elif decision_type is Respond:
            assert self.upstream is not None
            self.upstream.respond(decision.pdu, pdu.sequence_number)  # type: ignore[union-attr]
        elif decision_type is Defer:
            self._spawn(self._deferred, decision, pdu, False)
        else:
            raise TypeError(f"{type(decision).__name__} cannot be sent down to an ESME")

    def _forward_down(self, pdu: Pdu, upstream_sequence: int, on_response: Any) -> None:
        upstream = self.upstream
        if upstream is None:
            return
        esme = self.esme
        if esme.closed or esme.conn.state not in (State.BOUND_RX, State.BOUND_TRX):
            upstream.respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN), upstream_sequence)
            return
        if esme.conn.outstanding >= self.window:
            upstream.respond(make_response(pdu, CommandStatus.ESME_RTHROTTLED), upstream_sequence)
            return
        try:
            if on_response is None:
                esme.send_nowait(pdu, upstream_sequence, relay=True)
            else:
                esme.send_nowait(pdu, RelayContext(upstream_sequence, on_response))
        except PduTooLarge as exc:
            self.log.warning("request too large to relay", error=str(exc))
            upstream.respond(make_response(pdu, CommandStatus.ESME_RINVMSGLEN), upstream_sequence)

    @property
    def receiving(self) -> bool:
        """Whether this session can take a routed MO or receipt now (see :mod:`.mo_delivery`)."""
        esme = self.esme
        return (
            self._bind_mode is not None
            and not self._closing
            and not esme.closed
            and esme.conn.state in (State.BOUND_RX, State.BOUND_TRX)
        )

    def _route_down(self, decision: Forward, upstream_sequence: int) -> None:
        """An MO routed to ``decision.account``: to one of its receivers (round-robin), this session
        included; none bound: ESME_RX_T_APPN so the SMSC redelivers (any opt-out in it is committed)."""
        pdu = decision.pdu
        assert decision.account is not None
        target = self.proxy.mo_receiver(decision.account, decision.session)
        if target is self:
            self._forward_down(pdu, upstream_sequence, decision.on_response)
        elif target is None:
            self.log.info("no receiver of the account bound; SMSC to redeliver", routed=decision.account)
            if self.upstream is not None:
                self.upstream.respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN), upstream_sequence)
        else:
            self._spawn(forward_across, target, decision, self.upstream, upstream_sequence)

    async def deliver_mo(self, pdu: Pdu) -> Pdu:
        """An MO routed here from another session's bind (see :mod:`.mo_delivery`)."""
        if not self.receiving:
            return make_response(pdu, CommandStatus.ESME_RX_T_APPN)
        timeout = self.proxy.config.session.response_timeout
        return await request_esme(self.esme, pdu, window=self.window, timeout=timeout)

    async def _upstream_unbind(self, request: Pdu) -> None:
        self._closing = True
        await upstream_unbind(self, request)

    async def _deferred(self, decision: Defer, pdu: Pdu, upward: bool) -> None:
        try:
            outcome = await decision.work()
        except Exception:
            self.log.exception("policy failed; answering with a temporary error")
            outcome = Respond(
                make_response(pdu, CommandStatus.ESME_RSYSERR if upward else CommandStatus.ESME_RX_T_APPN)
            )
        if upward:
            self._decide_up(outcome, pdu)
        else:
            self._decide_down(outcome, pdu)

    def _spawn(self, func: Any, *args: Any) -> None:
        assert self._tg is not None
        self._tg.start_soon(func, *args)


_BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)
