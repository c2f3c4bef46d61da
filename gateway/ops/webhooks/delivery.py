"""Delivery: each webhook follows the event log from its durable cursor, one event at a time.

At least once: the cursor moves past an event only after the receiver answered 2xx (or the event
was dead-lettered), in a store commit; a crash in between means the same event, with the same id,
is sent again. In order: a webhook's events go out one by one in log order, so per number too.
A failing receiver is retried with exponential back-off (``retry_min`` doubling up to
``retry_max``) for ``retry_for`` seconds, then the event is dead-lettered and the webhook moves on.

Isolation from the SMPP path: this runs as its own task, reads through the store's reader
connection, and waits on the network only here; the HTTP client has a timeout per request and a
bounded pool, so a slow or dead receiver holds up nothing but its own webhook.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import anyio
import anyio.abc
import httpx
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge

from gateway.config.integrations import WebhookConfig
from gateway.ops.webhooks.payload import event_body
from gateway.ops.webhooks.signing import SIGNATURE_HEADER, sign
from gateway.store import DeadLetter, Event, Store, StoreError

log = structlog.get_logger("stopgate.webhooks")

#: Events read from the log per round trip.
PAGE_SIZE = 200
#: Seconds between looks at the log when a webhook is caught up.
POLL_INTERVAL = 0.5


class WebhookMetrics:
    """Delivery counters on the process's registry (``/metrics``)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = registry or CollectorRegistry()
        self.attempts = Counter(
            "stopgate_webhook_attempts",
            "Webhook requests by outcome (ok, failed)",
            ["webhook", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "stopgate_webhook_dead_letters",
            "Events given up on after the retry period",
            ["webhook"],
            registry=r,
        )
        self.cursor = Gauge("stopgate_webhook_cursor", "Last event id delivered", ["webhook"], registry=r)
        self.failing = Gauge(
            "stopgate_webhook_failing", "1 while the current event is being retried", ["webhook"], registry=r
        )


class WebhookDelivery:
    """One webhook: its cursor, its receiver, its retries."""

    def __init__(
        self,
        hook: WebhookConfig,
        store: Store,
        client: httpx.AsyncClient,
        metrics: WebhookMetrics,
        *,
        poll_interval: float = POLL_INTERVAL,
    ) -> None:
        self.hook = hook
        self.store = store
        self.client = client
        self.metrics = metrics
        self.poll_interval = poll_interval
        self.secrets = [s for s in (hook.secret, hook.previous_secret) if s]

    async def run(self) -> None:
        """Deliver forever; a store failure is logged and retried after a pause."""
        while True:
            try:
                busy = await self.step()
            except StoreError as exc:
                log.error("webhook: store unavailable, retrying", webhook=self.hook.name, error=str(exc))
                busy = False
            if not busy:
                await anyio.sleep(self.poll_interval)

    async def step(self) -> bool:
        """Deliver one page of the log past the cursor; False when there was nothing new."""
        name = self.hook.name
        cursor = (await self.store.webhook_state(name)).cursor
        page = await self.store.events(after_id=cursor, limit=PAGE_SIZE)
        if not page:
            return False
        for event in self._wanted(page):
            assert event.id is not None
            dead = await self._deliver(event)
            if not await self.store.advance_webhook(name, cursor, event.id, dead):
                return True  # a replay moved the cursor: start again from there
            cursor = event.id
            self.metrics.cursor.labels(name).set(cursor)
        last = page[-1].id
        assert last is not None
        if last != cursor and await self.store.advance_webhook(name, cursor, last):
            self.metrics.cursor.labels(name).set(last)
        return True

    def _wanted(self, page: Sequence[Event]) -> list[Event]:
        return [e for e in page if e.type.value in self.hook.events]

    async def _deliver(self, event: Event) -> DeadLetter | None:
        """Send ``event`` until it is accepted (None) or the retry period is over (a dead letter)."""
        hook = self.hook
        first_failure: float | None = None
        delay = hook.retry_min
        while True:
            error = await self.attempt(event)
            if error is None:
                self.metrics.attempts.labels(hook.name, "ok").inc()
                if first_failure is not None:
                    self.metrics.failing.labels(hook.name).set(0)
                    await self.store.note_webhook_error(hook.name, None)
                return None
            self.metrics.attempts.labels(hook.name, "failed").inc()
            now = anyio.current_time()
            if first_failure is None:
                first_failure = now
                self.metrics.failing.labels(hook.name).set(1)
                await self.store.note_webhook_error(hook.name, error)
            log.warning("webhook delivery failed", webhook=hook.name, event_id=event.id, error=error)
            left = hook.retry_for - (now - first_failure)
            if left <= 0:
                assert event.id is not None
                self.metrics.dead_letters.labels(hook.name).inc()
                self.metrics.failing.labels(hook.name).set(0)
                log.error("webhook event dead-lettered", webhook=hook.name, event_id=event.id, error=error)
                return DeadLetter(webhook=hook.name, event_id=event.id, ts=event.ts, error=error)
            await anyio.sleep(min(delay, left))
            delay = min(delay * 2, hook.retry_max)

    async def attempt(self, event: Event) -> str | None:
        """One signed POST of ``event``; None on a 2xx answer, else what went wrong."""
        body = event_body(event)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secrets, body, int(time.time())),
            "Stopgate-Event-Id": str(event.id),
        }
        try:
            response = await self.client.post(
                self.hook.url, content=body, headers=headers, timeout=self.hook.timeout
            )
        except httpx.TimeoutException:
            return f"timed out after {self.hook.timeout:g} s"
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


class Webhooks:
    """Every configured webhook, delivered concurrently (one task each) over one HTTP client."""

    def __init__(
        self, hooks: Sequence[WebhookConfig], store: Store, metrics: WebhookMetrics, **options: float
    ) -> None:
        self.hooks = tuple(hooks)
        self.store = store
        self.metrics = metrics
        self.options = options

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        limits = httpx.Limits(max_connections=max(4, 2 * len(self.hooks)), max_keepalive_connections=8)
        client = httpx.AsyncClient(limits=limits, follow_redirects=False)
        async with client, anyio.create_task_group() as tg:
            for hook in self.hooks:
                tg.start_soon(WebhookDelivery(hook, self.store, client, self.metrics, **self.options).run)
            task_status.started()
