"""`stopgate run`: the store, the suppression index, the opt-out engine, the proxy and the admin API
in one process, started together and stopped together."""

from __future__ import annotations

import signal
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field, replace
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
    from gateway.ops.webhooks import WebhookMetrics


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
        #: What a reload restarts (issue 16): each integration's tasks run in a scope of their own.
        self._webhooks: _Running | None = None
        self._web_tasks: _Running | None = None
        self._webhook_metrics: WebhookMetrics | None = None
        self._consents_followed = False
        #: Reloads whose integration changes are in force (tests wait on it).
        self.integrations_reloaded = 0

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
                await self._start_worker_metrics(tg)
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
        """Webhook delivery, the web page and text retention (issue 16): own tasks, off the SMPP path."""
        config = self.config
        if any(account.require_consent for account in config.accounts.values()):
            await self._start_consents(tg)
        if config.webhooks:
            await self._start_webhooks(tg, config)
        if config.web.enabled:
            await self._start_web(tg, config)
        if config.audit.text_retention_days:
            from gateway.ops.retention import retention_task

            days, interval = config.audit.text_retention_days, config.audit.retention_interval
            tg.start_soon(retention_task, self.store, days, interval)

    async def _start_consents(self, tg: anyio.abc.TaskGroup) -> None:
        """The live-consent index for ``require_consent`` accounts, caught up before it is used."""
        from gateway.store.consent_index import ConsentFollower, ConsentIndex

        consents = ConsentIndex()
        await tg.start(ConsentFollower(self.store, consents).run)
        self._consents_followed = True
        if self.policy is not None:
            self.policy.mt.consents = consents

    async def _start_webhooks(self, tg: anyio.abc.TaskGroup, config: Config) -> None:
        from gateway.ops.webhooks import WebhookMetrics, Webhooks

        if self._webhook_metrics is None:  # registered once: a reload restarts delivery, not metrics
            self._webhook_metrics = WebhookMetrics(self.metrics.registry)
        self._webhooks = _Running()
        hooks = Webhooks(config.webhooks, self.store, self._webhook_metrics)
        await tg.start(_scoped, self._webhooks, hooks.run)

    async def _start_web(
        self, tg: anyio.abc.TaskGroup, config: Config, tokens: TokenIssuer | None = None
    ) -> None:
        """The public page and the link issuer; footers' ``{optout_url}`` gets its links from it."""
        from gateway.ops.web import WebOptout, WebServer
        from gateway.ops.web.confirm import WebConfirmations
        from gateway.optout.changes import OptoutChanges

        changes = OptoutChanges(self.store, self.feed, self.metrics)
        own = self.policy.receipts.own_message if self.policy is not None else None
        confirm = WebConfirmations(self.store, lambda: self.config, lambda: self.proxy, own)
        self.web = WebServer(WebOptout(self.store, changes, config.web, confirm=confirm), config.web)
        self.tokens = tokens or self._token_issuer(config)
        self._web_tasks = _Running()
        await tg.start(_scoped, self._web_tasks, self.web.serve, self.tokens.run)

    def _token_issuer(self, config: Config) -> TokenIssuer:
        """A link issuer for ``config``'s ``[web]``, put in use by the submit path at once."""
        from gateway.ops.web import TokenIssuer

        tokens = TokenIssuer(self.store, config.web.public_url, config.web.token_days)
        if self.policy is not None:
            self.policy.mt.links = tokens.issue
        return tokens

    async def _reload_integrations(self, old: Config, new: Config) -> None:
        """Apply ``[[webhook]]``, ``[web]`` and ``require_consent`` changes without a restart.

        Webhook delivery restarts from the durable cursors (at least once, so nothing is lost). The web
        page restarts on its new listener: links go to a new issuer first, and the old one stores
        what it issued as it stops. A first ``require_consent`` account starts the consent index.
        """
        tg = self._tg
        assert tg is not None
        try:
            if not self._consents_followed and any(a.require_consent for a in new.accounts.values()):
                await self._start_consents(tg)
            if new.webhooks != old.webhooks:
                if self._webhooks is not None:
                    await self._webhooks.stop()
                    self._webhooks = None
                if new.webhooks:
                    await self._start_webhooks(tg, new)
            if new.web != old.web:
                # Links go to the new issuer before the old one stops and stores what it issued.
                tokens = self._token_issuer(new) if new.web.enabled else None
                if tokens is None and self.policy is not None:
                    self.policy.mt.links = None
                if self._web_tasks is not None:
                    await self._web_tasks.stop()  # its listener closed: the new one may take the port
                    self._web_tasks = None
                    self.web = self.tokens = None
                if new.web.enabled:
                    await self._start_web(tg, new, tokens)
        except Exception as exc:  # a port in use, say: the rest of the reload stands
            self.log.error("reload: integrations not restarted", error=str(exc))
            return
        self.integrations_reloaded += 1
        if new.webhooks != old.webhooks or new.web != old.web:
            self.log.info("integrations restarted", webhooks=len(new.webhooks), web=new.web.enabled)

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
            upstreams=lambda: self._proxy().upstream_status(),
            scrape=self._scrape_all(),
        )
        return AdminServer(context)

    async def _start_worker_metrics(self, tg: anyio.abc.TaskGroup) -> None:
        """Under a supervisor, workers 1..N-1 hand their figures to worker 0's ``/metrics``."""
        from gateway.ops.worker_metrics import serve_worker_metrics, worker_dir

        directory = worker_dir()
        if directory is not None and self.worker > 0:
            await tg.start(serve_worker_metrics, self.metrics.registry, directory, self.worker)

    def _scrape_all(self) -> Callable[[], Awaitable[bytes]] | None:
        from gateway.ops.worker_metrics import scrape_all, worker_dir

        directory, workers = worker_dir(), self.config.listen.workers
        if directory is None or workers < 2:
            return None
        return lambda: scrape_all(self.metrics.registry, directory, workers)

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
        old, self.config = self.config, config
        if self.proxy is not None:
            self.proxy.reload(config)
        if self.policy is not None:
            self.policy.reload(config)
        if self._tg is not None:
            self._tg.start_soon(self._reload_integrations, old, config)
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


@dataclass
class _Running:
    """Tasks a reload may stop: their cancel scope, and an event set once they have ended."""

    scope: anyio.CancelScope = field(default_factory=anyio.CancelScope)
    done: anyio.Event = field(default_factory=anyio.Event)

    async def stop(self) -> None:
        self.scope.cancel()
        with anyio.move_on_after(10):
            await self.done.wait()


async def _scoped(
    running: _Running,
    *tasks: Callable[..., Coroutine[Any, Any, Any]],
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Start ``tasks`` (each reports when it is ready) under ``running``'s scope."""
    try:
        with running.scope:
            async with anyio.create_task_group() as tg:
                for task in tasks:
                    await tg.start(task)
                task_status.started()
    finally:
        running.done.set()


def _lockout_record(lockout: Lockout) -> LockoutRecord:
    return {
        "ip": lockout.ip,
        "system_id": lockout.system_id,
        "remaining_seconds": round(lockout.remaining, 1),
        "count": lockout.count,
    }
