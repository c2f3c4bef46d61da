"""The listening side of the proxy: accepts ESMEs, authenticates binds, tracks sessions."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio
import anyio.abc
import structlog
from anyio.streams.tls import TLSListener

from gateway.config import AccountConfig, Config, UpstreamConfig
from gateway.metrics import PduCounts
from gateway.policy.decisions import Policy
from gateway.smpp.connection import Connection
from gateway.smpp.constants import CommandStatus
from gateway.smpp.errors import ProtocolError
from gateway.smpp.pdu import Pdu
from gateway.smpp.states import Role

from .link import Link, LinkTimers
from .link_tcp import TcpCarrier, start_tcp_server
from .pool_router import PoolRouter
from .pool_status import UpstreamStatus
from .probe import UpstreamProbe
from .service import ServiceBind, UpstreamHealth
from .session import EsmeSession
from .status_view import upstream_status
from .throttle import BindThrottle, Lockout
from .upstream import ReconnectBackoff, connect_with_backoff


class Proxy:
    """Accepts ESME connections and runs one :class:`EsmeSession` per connection.

    ``clock`` is the one clock of the proxy: sessions, links, backoffs and the bind throttle measure
    every deadline with it (``time.monotonic`` by default, the asyncio loop's own clock; see
    :class:`~.link.Link` for why not uvloop's ``loop.time()``)."""

    def __init__(
        self,
        config: Config,
        policy: Policy,
        *,
        log: Any = None,
        pdu_counts: PduCounts | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.policy = policy
        self.clock = clock
        self.log = log if log is not None else structlog.get_logger("stopgate.proxy")
        self.pdu_counts = pdu_counts
        sec = config.security
        self.throttle = BindThrottle(
            max_failures=sec.max_failed_binds,
            window=sec.failed_bind_window,
            lockout=sec.lockout_seconds,
            max_lockout=sec.max_lockout_seconds,
        )
        self.sessions: set[EsmeSession] = set()
        self.session_counts: dict[str, int] = {}
        self.ports: list[int] = []
        self._services: dict[str, ServiceBind] = {}
        self._backoffs: dict[str, ReconnectBackoff] = {}
        self._tg: anyio.abc.TaskGroup | None = None
        self._accepting: anyio.CancelScope | None = None
        self._drained = anyio.Event()
        self.on_rejected: Any = None
        #: Called with the account (or "unknown") when failed binds lock a (source, system_id) out.
        self.on_lockout: Any = None
        #: Called with (upstream name, reachable) after each probe of an upstream nothing is bound to.
        self.on_probe: Any = None
        self.probe = UpstreamProbe(
            lambda: self.config.upstreams.values(),
            self.upstream_in_use,
            lambda name, up: self.on_probe(name, up) if self.on_probe is not None else None,
        )
        #: Called with (system_id, +1) when a session binds and (system_id, -1) when it ends.
        self.on_bound_change: Any = None
        #: Observes the sampled time a relayed submit spends inside the proxy (a Histogram).
        self.latency_histogram: Any = None
        #: Routed MOs given to each account so far: its receivers take turns.
        self._mo_turns: dict[str, int] = {}
        #: Pooled mode: Stopgate holds the upstreams' binds and routes submits over them (routes
        #: configured); None: each ESME session has its own upstream bind.
        self.router: PoolRouter | None = PoolRouter(self, config) if config.routes else None

    @property
    def task_group(self) -> anyio.abc.TaskGroup:
        assert self._tg is not None
        return self._tg

    @property
    def port(self) -> int:
        return self.ports[0]

    def bound_sessions(self, account: str) -> int:
        return self.session_counts.get(account, 0)

    def upstream_in_use(self, name: str) -> bool:
        """Whether a bound session of some account relays through upstream ``name`` (pooled mode:
        whether it is pooled, its binds say whether it is up)."""
        if self.router is not None:
            return name in self.router.pools
        return any(s.bound and s.account.upstream == name for s in list(self.sessions))

    def upstream_probes(self) -> dict[str, bool]:
        """The probe's last result for each upstream no session is bound to (see :mod:`.probe`)."""
        return dict(self.probe.results)

    def upstream_health(self) -> list[UpstreamHealth]:
        """For each bound ESME session, whether its upstream is up (what readiness is made of)."""
        if self.router is not None:
            return [UpstreamHealth(*account) for account in self.router.health()]
        health = []
        for session in list(self.sessions):
            if session.bound:
                link = session.upstream
                account = session.account
                up = link is not None and not link.closed
                health.append(UpstreamHealth(account.system_id, account.upstream, up))
        return health

    def upstream_status(self) -> list[UpstreamStatus]:
        """A snapshot of each upstream and its binds (``GET /v1/upstreams``; pooled or per-session mode)."""
        if self.router is not None:
            return self.router.status()
        return upstream_status(self)

    # --- serving ----------------------------------------------------------------------------------

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen and serve until cancelled or :meth:`shutdown`.

        Plain TCP is served by the event loop's own server (each connection a :class:`TcpCarrier`);
        TLS by anyio's TLS listener (each connection a TLS stream)."""
        listen = self.config.listen
        tls_context = self._server_tls_context()
        tls_listener: TLSListener | None = None
        tls_port = 0
        servers: list[asyncio.Server] = []
        async with anyio.create_task_group() as tg:
            self._tg = tg
            try:
                # The separate TLS port is bound first: once listen.port accepts connections, every
                # listener does (supervisors and tests poll listen.port for readiness).
                if tls_context is not None:
                    tls_tcp = await anyio.create_tcp_listener(
                        local_host=listen.host,
                        local_port=listen.port if listen.tls_port is None else listen.tls_port,
                        reuse_port=listen.workers > 1,
                    )
                    # A silent client is dropped after bind_timeout whether it stalls the handshake
                    # or the bind.
                    tls_port = tls_tcp.extra(anyio.abc.SocketAttribute.local_port)
                    tls_listener = TLSListener(
                        tls_tcp,
                        tls_context,
                        standard_compatible=False,
                        handshake_timeout=self.config.session.bind_timeout,
                    )
                if tls_context is None or listen.tls_port is not None:
                    servers = await start_tcp_server(
                        listen.host, listen.port, self._accepted, reuse_port=listen.workers > 1
                    )
                    self.ports.append(servers[0].sockets[0].getsockname()[1])
                if tls_listener is not None:
                    self.ports.append(tls_port)
                self.log.info("listening", host=listen.host, ports=self.ports)
                tg.start_soon(self.probe.run)
                if self.router is not None:
                    await tg.start(self.router.run)
                with anyio.CancelScope() as accepting:
                    self._accepting = accepting
                    async with anyio.create_task_group() as accept_group:
                        if tls_listener is not None:
                            accept_group.start_soon(tls_listener.serve, self._handle, tg)
                        task_status.started()
                        await anyio.sleep_forever()
            finally:
                for server in servers:
                    server.close()
                if tls_listener is not None:
                    with anyio.CancelScope(shield=True):
                        await tls_listener.aclose()
            # Stopped accepting: shutdown() drains the sessions, then everything left is cancelled.
            await self._drained.wait()
            tg.cancel_scope.cancel()

    def _server_tls_context(self) -> ssl.SSLContext | None:
        listen = self.config.listen
        if listen.tls_cert is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(listen.tls_cert), str(listen.tls_key) if listen.tls_key else None)
        return context

    async def shutdown(self) -> None:
        """Stop accepting, unbind every session (bounded by shutdown_grace), then stop."""
        grace = self.config.session.shutdown_grace
        self.log.info("shutting down", sessions=len(self.sessions), grace=grace)
        if self._accepting is not None:
            self._accepting.cancel()
        async with anyio.create_task_group() as tg:
            for session in list(self.sessions):
                tg.start_soon(session.shutdown, grace)
            for service in self._services.values():
                tg.start_soon(service.close)
        if self.router is not None:
            await self.router.close()
        self._drained.set()

    def _accepted(self, carrier: TcpCarrier) -> None:
        if self._tg is not None:
            self._tg.start_soon(self._handle, carrier)

    async def _handle(self, stream: anyio.abc.ByteStream | TcpCarrier) -> None:
        # Every connection runs in the proxy's own task group: nothing raised while serving one may
        # escape, or it would stop the proxy for everyone.
        try:
            await self._serve_connection(stream)
        except* Exception:
            self.log.error("connection failed with an internal error; closed", exc_info=True)
            with anyio.CancelScope(shield=True), contextlib.suppress(Exception):
                await stream.aclose()

    async def _serve_connection(self, stream: anyio.abc.ByteStream | TcpCarrier) -> None:
        peer = _peer_host(stream)
        session_cfg = self.config.session
        if len(self.sessions) >= session_cfg.max_connections:
            self.log.warning("connection limit reached, refusing", peer=peer)
            await stream.aclose()
            return
        conn = Connection(
            Role.SMSC, response_timeout=session_cfg.response_timeout, max_pdu_size=session_cfg.max_pdu_size
        )
        timers = LinkTimers(
            enquire_link_interval=session_cfg.enquire_link_interval,
            inactivity_timeout=session_cfg.inactivity_timeout,
            incomplete_pdu_timeout=session_cfg.incomplete_pdu_timeout,
        )
        link = Link(
            stream,
            conn,
            name="esme",
            timers=timers,
            log=self.log,
            pdu_counts=self.pdu_counts,
            clock=self.clock,
        )
        session = EsmeSession(self, link, peer)
        self.sessions.add(session)
        session.log.info("connected")
        try:
            await session.run()
        except* Exception:
            # A bug met by one session closes that session (both legs are gone by now), never the
            # proxy: its task group is the one every other session runs in.
            session.log.error("session failed with an internal error; closed", exc_info=True)
        finally:
            self._session_ended(session)

    # --- sessions ---------------------------------------------------------------------------------

    async def authenticate(self, bind: Pdu, peer: str) -> tuple[int, AccountConfig | None]:
        """Check a bind's credentials; reserves a session slot on success."""
        now = self.clock()
        system_id: str = getattr(bind, "system_id", "")
        password: str = getattr(bind, "password", "")
        if self.throttle.locked((peer, system_id), now):
            return CommandStatus.ESME_RBINDFAIL, None
        account = self.config.accounts.get(system_id)
        if account is None:
            self._failed_bind(peer, now, "unknown system_id", system_id)
            return CommandStatus.ESME_RINVSYSID, None
        if account.password_hash is not None:
            ok = await anyio.to_thread.run_sync(account.verify_password, password)
        else:
            ok = account.verify_password(password)
        if not ok:
            self._failed_bind(peer, self.clock(), "wrong password", system_id)
            return CommandStatus.ESME_RINVPASWD, None
        if self.session_counts.get(system_id, 0) >= account.max_sessions:
            self.log.warning("too many sessions", account=system_id, limit=account.max_sessions)
            return CommandStatus.ESME_RBINDFAIL, None
        self.throttle.succeeded((peer, system_id))
        self.session_counts[system_id] = self.session_counts.get(system_id, 0) + 1
        return CommandStatus.ESME_ROK, account

    def _failed_bind(self, peer: str, now: float, reason: str, system_id: str) -> None:
        locked = self.throttle.failed((peer, system_id), now)
        self.log.warning("bind refused", peer=peer, reason=reason, system_id=system_id, locked_out=locked)
        if locked:
            known = system_id in self.config.accounts
            self.log.warning("bind lockout", peer=peer, system_id=system_id, known_account=known)
            if self.on_lockout is not None:
                # An unknown system_id is counted as "unknown": the label must not grow with input.
                self.on_lockout(system_id if known else "unknown")

    def release_session_slot(self, account: AccountConfig) -> None:
        count = self.session_counts.get(account.system_id, 0) - 1
        if count > 0:
            self.session_counts[account.system_id] = count
        else:
            self.session_counts.pop(account.system_id, None)

    def locked_out(self, peer: str, system_id: str) -> bool:
        return self.throttle.locked((peer, system_id), self.clock())

    def lockouts(self) -> list[Lockout]:
        """Every bind lockout in force (for the admin API)."""
        return self.throttle.lockouts(self.clock())

    def unlock(self, ip: str, system_id: str | None) -> list[Lockout]:
        """Lift the bind lockouts of ``ip`` (one ``system_id``'s, or all); returns those lifted."""
        lifted = self.throttle.unlock(ip, system_id, self.clock())
        for lockout in lifted:
            self.log.warning("bind lockout lifted", peer=lockout.ip, system_id=lockout.system_id)
        return lifted

    def session_bound(self, account: AccountConfig) -> None:
        if self.on_bound_change is not None:
            self.on_bound_change(account.system_id, 1)

    def _session_ended(self, session: EsmeSession) -> None:
        self.sessions.discard(session)
        if session.bound:
            self.release_session_slot(session.account)
            if self.on_bound_change is not None:
                self.on_bound_change(session.account.system_id, -1)

    async def connect_upstream(self, upstream: UpstreamConfig, log: Any) -> Link:
        """Connect to ``upstream`` with the reconnect backoff every session of that upstream shares."""
        backoff = self._backoffs.get(upstream.name)
        settings = (upstream.reconnect_backoff_initial, upstream.reconnect_backoff_max)
        if backoff is None or (backoff.initial, backoff.maximum) != settings:
            backoff = self._backoffs[upstream.name] = ReconnectBackoff(*settings)
        return await connect_with_backoff(
            upstream, self.config.session, backoff, log=log, pdu_counts=self.pdu_counts, clock=self.clock
        )

    def mo_receiver(self, system_id: str, prefer: str | None = None) -> EsmeSession | None:
        """Session ``prefer`` if it can receive, else the next receiver of ``system_id`` for a
        routed MO or receipt (round-robin); None if none is bound."""
        receivers = [s for s in self.sessions if s.bound and s.account.system_id == system_id and s.receiving]
        for session in receivers:
            if session.session_id == prefer:
                return session
        if not receivers:
            return None
        if len(receivers) == 1:
            return receivers[0]
        receivers.sort(key=lambda s: s.session_id)  # a stable order for the turns
        turn = self._mo_turns.get(system_id, 0)
        self._mo_turns[system_id] = turn + 1
        return receivers[turn % len(receivers)]

    def rejected(self, leg: str, error: ProtocolError) -> None:
        if self.on_rejected is not None:
            self.on_rejected(leg, error)

    async def service_request(
        self, upstream_name: str, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None
    ) -> Pdu:
        router = self.router
        if router is not None and upstream_name in router.pools:  # pooled: never a bind of its own
            pooled: Pdu = await router.request(router.pools[upstream_name], pdu, on_response)
            return pooled
        service = self._services.get(upstream_name)
        if service is None:
            service = self._services[upstream_name] = ServiceBind(self, self.config.upstreams[upstream_name])
        return await service.request(pdu, on_response)

    def reload(self, config: Config) -> None:
        """Adopt a new configuration: new binds and policy decisions use it; sessions stay bound.

        Pooled mode: routes swap at once, an upstream added starts its pool, one removed (or changed)
        closes its binds. Switching between per-session and pooled mode needs a restart."""
        if (self.router is not None) != bool(config.routes):
            self.log.warning("routes added or removed: switching pooled mode needs a restart; routes kept")
            config = replace(config, routes=self.config.routes)
        self.config = config
        if self.router is not None:
            self.router.adopt(config)


def _peer_host(stream: anyio.TypedAttributeProvider) -> str:
    try:
        address = stream.extra(anyio.abc.SocketAttribute.remote_address)
    except (anyio.TypedAttributeLookupError, OSError, AttributeError):
        # A client that reset the connection before it was served: the socket may already be gone
        # (uvloop: AttributeError from a transport without a socket; asyncio: ENOTCONN).
        return "unknown"
    if isinstance(address, tuple):
        return str(address[0])
    return str(address)
