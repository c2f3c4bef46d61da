"""`stopgate run`: the store, the suppression index, the opt-out engine, the proxy and the admin API
in one process, started together and stopped together."""

from __future__ import annotations

import signal
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import structlog

from gateway.config import Config, ConfigError, load_config
from gateway.metrics import Metrics
from gateway.optout.engine import OptoutPolicy
from gateway.proxy.server import Proxy
from gateway.proxy.throttle import Lockout
from gateway.store.backends import make_store
from gateway.store.feed import ChangeFollower
from gateway.store.index import build_index

if TYPE_CHECKING:
    from gateway.ops.admin import AdminServer, ReadinessDetail
    from gateway.ops.admin.context import LockoutRecord
    from gateway.ops.web import TokenIssuer, WebServer
    from gateway.store import WebToken


class App:
    """Everything `stopgate run` serves."""

    def __init__(self, config: Config, config_path: Path | None = None, *, worker: int = 0) -> None:
        self.config = config
        self.config_path = config_path
        #: Index among the workers of ``stopgate run --workers`` (0 alone serves the admin API).
        self.worker = worker
        self.log = structlog.get_logger("stopgate")
        self.metrics = Metrics()
        self.store = make_store(config.storage.path, config.storage.url)
        self.proxy: Proxy | None = None
        self.policy: OptoutPolicy | None = None
        self.feed: ChangeFollower | None = None
        self.admin: AdminServer | None = None
        #: The public opt-out page and its link tokens, when ``[web] public_url`` is set.
        self.web: WebServer | None = None
        self.tokens: TokenIssuer | None = None
        self._tg: anyio.abc.TaskGroup | None = None
        self._stopping = False

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        config = self.config
        started = anyio.current_time()
        await self.store.open()
        try:
            index, last_id = await build_index(self.store)
            self.metrics.suppressed_numbers.set_function(lambda: len(index))
            self.metrics.store_ready.set(1)
            self.feed = ChangeFollower(
                self.store,
                index,
                after_id=last_id,
                interval=config.optout.feed_interval,
                on_health=lambda ok: self.metrics.store_ready.set(1 if ok else 0),
            )
            feed = self.feed
            self.metrics.feed_lag.set_function(feed.lag)
            # One sync before serving: until then the feed's lag is unknown (infinite), and the
            # watch would refuse marketing for the first moment of every start.
            await feed.sync()
            self.policy = OptoutPolicy(config, self.store, index, self.metrics, feed=feed)
            self.proxy = Proxy(config, self.policy, pdu_counts=self.metrics.pdu_counts)
            self.proxy.on_rejected = lambda leg, error: self.metrics.rejected.labels(
                leg, f"0x{error.status:08x}"
            ).inc()
            self.proxy.latency_histogram = self.metrics.proxy_latency
            self.proxy.on_lockout = lambda account: self.metrics.bind_lockouts.labels(account).inc()
            self.proxy.on_probe = lambda name, up: self.metrics.upstream_up.labels(name).set(1 if up else 0)
            if self.proxy.router is not None:
                self.metrics.upstreams.source = self.proxy.router.samples
                self.proxy.router.on_health = self.proxy.on_probe  # stopgate_upstream_up per pool
            self.proxy.on_bound_change = lambda account, delta: self.metrics.bound_sessions.labels(
                account
            ).inc(delta)
            async with anyio.create_task_group() as tg:
                self._tg = tg
                # Handlers first: once a port answers, SIGTERM drains and SIGHUP reloads (the default
                # action of either, a moment earlier, would kill the process).
                await tg.start(self._signals)
                await tg.start(self.policy.run)
                tg.start_soon(self.feed.run)
                # Before the proxy: footers' {optout_url} needs the link issuer from the first message.
                await self._start_integrations(tg)
                if config.optout.max_feed_lag > 0:
                    tg.start_soon(self.feed.watch, config.optout.max_feed_lag, self._on_blind)
                await tg.start(self.proxy.serve)
                if config.admin.enabled and self.worker == 0:
                    self.admin = self._admin_server(self.feed)
                    await tg.start(self.admin.serve)
                self.log.info(
                    "ready",
                    ports=self.proxy.ports,
                    suppressed=len(index),
                    startup_seconds=round(anyio.current_time() - started, 3),
                )
                task_status.started()
        finally:
            with anyio.CancelScope(shield=True):
                if self.policy is not None:
                    await self.policy.flush()
                await self.store.close()
            self.log.info("stopped")

    async def _start_integrations(self, tg: anyio.abc.TaskGroup) -> None:
        """Webhook delivery and text retention (issue 16): own tasks, off the SMPP path."""
        config = self.config
        if any(account.require_consent for account in config.accounts.values()):
            from gateway.store.consent_index import ConsentFollower, ConsentIndex

            consents = ConsentIndex()
            await tg.start(ConsentFollower(self.store, consents).run)  # caught up before serving
            if self.policy is not None:
                self.policy.mt.consents = consents
        if config.webhooks:
            from gateway.ops.webhooks import WebhookMetrics, Webhooks

            metrics = WebhookMetrics(self.metrics.registry)
            await tg.start(Webhooks(config.webhooks, self.store, metrics).run)
        if config.web.enabled:
            from gateway.ops.web import TokenIssuer, WebOptout, WebServer
            from gateway.optout.changes import OptoutChanges

            changes = OptoutChanges(self.store, self.feed, self.metrics)
            page = WebOptout(self.store, changes, config.web, confirm=self._web_confirmation)
            self.web = WebServer(page, config.web)
            await tg.start(self.web.serve)
            self.tokens = TokenIssuer(self.store, config.web.public_url, config.web.token_days)
            await tg.start(self.tokens.run)
            if self.policy is not None:  # footers' {optout_url}: a link per message
                self.policy.mt.links = self.tokens.issue
        if config.audit.text_retention_days:
            from gateway.ops.retention import retention_task

            days, interval = config.audit.text_retention_days, config.audit.retention_interval
            tg.start_soon(retention_task, self.store, days, interval)

    async def _web_confirmation(self, token: WebToken) -> None:
        """The account's ``web_confirmation`` SMS after a web opt-out, through one of its bound sessions.

        Best effort, like the keyword confirmations: not sent (and logged) when the account has no
        session bound, and a failure never undoes the opt-out.
        """
        account = self.config.accounts.get(token.account or "")
        if account is None or not account.web_confirmation or not account.web_confirmation_from:
            return
        proxy = self.proxy
        sessions = [
            s
            for s in (proxy.sessions if proxy else ())
            if s.bound and s.account.system_id == account.system_id
        ]
        if not sessions:
            self.log.info(
                "web confirmation not sent: no session of the account is bound", account=account.system_id
            )
            return
        from gateway.policy.messages import text_parts
        from gateway.smpp.constants import CommandStatus, DataCoding
        from gateway.smpp.pdu import SubmitSm
        from gateway.store import Channel, Event, EventType
        from gateway.text.gsm import is_gsm

        text = account.web_confirmation
        coding = DataCoding.SMSC_DEFAULT if is_gsm(text) else DataCoding.UCS2
        sender = account.web_confirmation_from
        digits = sender.lstrip("+")
        # TON: alphanumeric 5; a long number international 1; a short code network-specific 3.
        ton = 5 if not digits.isdigit() else (1 if len(digits) > 8 else 3)
        template = SubmitSm(
            source_addr_ton=ton,
            source_addr=digits if digits.isdigit() else sender,
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr=token.number.lstrip("+"),
            data_coding=coding,
        )
        ids = []
        try:
            for part in text_parts(template, text, coding, use_payload=False, reference=0):
                resp = await sessions[0].transmit(part)
                if resp.command_status != CommandStatus.ESME_ROK:
                    raise RuntimeError(f"SMSC answered 0x{resp.command_status:08x}")
                ids.append(getattr(resp, "message_id", ""))
            await self.store.append_events(
                [
                    Event(
                        type=EventType.CONFIRMATION_SENT,
                        number=token.number,
                        scope=token.scope,
                        channel=Channel.WEB,
                        account=account.system_id,
                        text=text,
                        message_ids=tuple(ids),
                        reason="web_opt_out",
                    )
                ]
            )
        except Exception as exc:
            self.log.warning("web confirmation not sent", account=account.system_id, error=str(exc))

    def _on_blind(self, blind: bool) -> None:
        self.metrics.feed_blind.set(1 if blind else 0)
        if self.policy is not None:
            self.policy.mt.blind = blind

    def _admin_server(self, feed: ChangeFollower) -> AdminServer:
        # Imported only when enabled: Starlette and uvicorn add ~0.1 s to the start of the process.
        from gateway.ops.admin import AdminContext, AdminServer

        context = AdminContext(
            store=self.store,
            feed=feed,
            metrics=self.metrics,
            config=lambda: self.config,
            readiness=self.readiness,
            lockouts=lambda: [_lockout_record(x) for x in self._proxy().lockouts()],
            unlock=lambda ip, system_id: [_lockout_record(x) for x in self._proxy().unlock(ip, system_id)],
        )
        return AdminServer(context)

    def _proxy(self) -> Proxy:
        assert self.proxy is not None
        return self.proxy

    def readiness(self) -> tuple[bool, ReadinessDetail]:
        """The proxy's side of ``/readyz``: every upstream of a bound account is up.

        Plain data for the admin API, which never sees the proxy itself.
        """
        checks: dict[str, str] = {}
        reasons: list[str] = []
        proxy = self.proxy
        if proxy is None:
            reasons.append("proxy: not started")
        else:
            for health in proxy.upstream_health():
                key = f"upstream {health.upstream}"
                if health.up:
                    checks.setdefault(key, "ok")
                else:
                    checks[key] = "unreachable"
                    reasons.append(
                        f"upstream {health.upstream} is unreachable (account {health.system_id} is bound)"
                    )
                self.metrics.upstream_up.labels(health.upstream).set(1 if checks[key] == "ok" else 0)
            # Upstreams nothing is bound to: the last TCP connect probe (gateway/proxy/probe.py).
            for name, up in proxy.upstream_probes().items():
                key = f"upstream {name}"
                if key in checks:
                    continue
                checks[key] = "ok" if up else "unreachable"
                if not up:
                    reasons.append(f"upstream {name} is unreachable (TCP connect probe; no account bound)")
        if self.policy is not None and self.policy.mt.blind:
            checks["change feed"] = "behind"
            reasons.append(
                f"change feed {self.feed.lag() if self.feed else float('inf'):.1f} s behind"
                f" (optout.max_feed_lag {self.config.optout.max_feed_lag:g} s): marketing refused"
            )
        return not reasons, {"checks": checks, "reasons": reasons}

    async def _signals(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT, signal.SIGHUP) as signals:
            task_status.started()
            async for signum in signals:
                if signum == signal.SIGHUP:
                    self.reload()
                else:
                    self.log.info("signal received, draining", signal=signal.Signals(signum).name)
                    await self.stop()
                    return

    async def stop(self) -> None:
        """Graceful stop: stop accepting, unbind sessions within the grace time, stop the API."""
        if self._stopping:
            return
        self._stopping = True
        if self.proxy is not None:
            await self.proxy.shutdown()
        if self.admin is not None:
            await self.admin.stop()
        if self._tg is not None:
            self._tg.cancel_scope.cancel()

    def reload(self) -> bool:
        """Re-read the config file; an invalid one is refused and the old one stays in force."""
        if self.config_path is None:
            return False
        try:
            config = load_config(self.config_path)
        except ConfigError as exc:
            self.log.error("reload refused: invalid config; keeping the current one", error=str(exc))
            return False
        config = replace(config, listen=replace(config.listen, workers=self.config.listen.workers))
        if config.listen != self.config.listen or config.storage != self.config.storage:
            self.log.warning("listen and storage changes need a restart; other changes applied")
        self.config = config
        if self.proxy is not None:
            self.proxy.reload(config)
        if self.policy is not None:
            self.policy.reload(config)
        self.log.info("config reloaded", accounts=len(config.accounts))
        return True


def run(config_path: Path, *, worker: int = 0, workers: int = 1) -> None:
    """Load the config and serve until SIGTERM (blocking); one of ``workers`` sharing the port."""
    from gateway.ops.logs import configure_logging

    config = load_config(config_path)
    if workers != config.listen.workers:  # `--workers` on the command line
        config = replace(config, listen=replace(config.listen, workers=workers))
    configure_logging(config.logging)
    app = App(config, config_path, worker=worker)
    backend_options: dict[str, Any] = {}
    try:
        import uvloop  # noqa: F401

        backend_options["use_uvloop"] = True
    except ImportError:
        pass
    anyio.run(app.run, backend="asyncio", backend_options=backend_options)


def _lockout_record(lockout: Lockout) -> LockoutRecord:
    return {
        "ip": lockout.ip,
        "system_id": lockout.system_id,
        "remaining_seconds": round(lockout.remaining, 1),
        "count": lockout.count,
    }
