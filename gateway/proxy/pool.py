"""An upstream's pool of binds (pooled mode): the binds, their health, the circuit breaker and the
``max_tps`` token bucket, and the queue of submits waiting for a token.

Health, as routing reads it (see :mod:`.pool_status`): ``bound`` every bind bound and the circuit
closed; ``degraded`` some bound, or the circuit half-open (one probe request at a time); ``down`` no
bind bound, or the circuit open.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc

from gateway.config import UpstreamConfig

from .breaker import CircuitBreaker
from .link import Link
from .pool_bind import TRANSMITTING, PoolBind
from .pool_status import Health, UpstreamStatus
from .tps import TokenBucket

#: A submit waiting for a token: (deadline, send it, answer it ESME_RTHROTTLED).
Waiting = tuple[float, Callable[[], None], Callable[[], None]]


class UpstreamPool:
    def __init__(self, router: Any, config: UpstreamConfig) -> None:
        self.router = router
        self.proxy = router.proxy
        self.config = config
        self.name = config.name
        self.log = router.proxy.log.bind(upstream=config.name, leg="pool")
        now = self.proxy.clock()
        self.breaker = CircuitBreaker(config.breaker_failures, config.breaker_cooldown)
        #: Under ``listen.workers`` every worker holds a pool of its own: each takes an equal share of
        #: the contracted rate, so together they stay within it.
        self.workers = max(1, router.config.listen.workers)
        self.bucket = TokenBucket(config.max_tps / self.workers, now) if config.max_tps else None
        self.binds = [PoolBind(self, i) for i in range(config.binds)]
        self.transmitters = [b for b in self.binds if b.mode.can_transmit]
        self.window = config.window
        self.closing = False
        self.waiting: deque[Waiting] = deque()
        self._wake = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self.health: Health = "down"
        #: A transmit-capable bind is bound (kept by :meth:`bind_changed`: read per submit).
        self.up = False
        self.since = time.time()
        self.submits = self.errors = self.throttled = self.failovers = 0
        #: (time, submits) when the status was last taken: the reported TPS is the rate since.
        self._sampled = (now, 0)
        self._tps = 0.0

    # --- routing ----------------------------------------------------------------------------------

    def probe_ready(self) -> bool:
        """The circuit is not closed: whether it lets a probe through now."""
        return self.breaker.available(self.proxy.clock())

    def ready(self, now: float) -> bool:
        """Routing may choose this upstream now: a bind bound, the circuit not open (nor half-open
        with its probe already out)."""
        breaker = self.breaker
        if breaker.state != "closed" and not breaker.available(now):
            return False
        return any(bind.state == "bound" and bind.mode.can_transmit for bind in self.binds)

    def link(self) -> Link | None:
        """The bound transmit-capable bind with the fewest requests in flight and room in its window."""
        best: Link | None = None
        fewest = self.window
        for bind in self.transmitters:
            link = bind.link
            if link is not None and not link.closed and link.conn.state in TRANSMITTING:
                outstanding = link.conn.outstanding
                if outstanding < fewest:
                    best, fewest = link, outstanding
        return best

    def bind_changed(self) -> None:
        bound = sum(1 for b in self.binds if b.state == "bound")
        self.up = any(b.state == "bound" and b.mode.can_transmit for b in self.binds)
        state = self.breaker.current(self.proxy.clock())
        health: Health
        if not bound or state == "open":
            health = "down"
        elif bound < len(self.binds) or state == "half_open":
            health = "degraded"
        else:
            health = "bound"
        if health != self.health:
            self.health = health
            self.since = time.time()
            self.log.info("upstream health", health=health, bound=bound, binds=len(self.binds))
            on_health = self.router.on_health
            if on_health is not None:
                on_health(self.name, health != "down")

    # --- max_tps ----------------------------------------------------------------------------------

    def wait_for_token(self, now: float, send: Callable[[], None], refuse: Callable[[], None]) -> None:
        """Queue a submit over the rate: sent in order when its token comes, refused after max_tps_wait."""
        self.waiting.append((now + self.config.max_tps_wait, send, refuse))
        self._wake.set()

    async def _drain(self) -> None:
        clock = self.proxy.clock
        bucket = self.bucket
        assert bucket is not None
        while True:
            if not self.waiting:
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            now = clock()
            deadline, send, refuse = self.waiting[0]
            if now > deadline:
                self.waiting.popleft()
                refuse()
                continue
            if bucket.take(now):
                self.waiting.popleft()
                send()
                continue
            await anyio.sleep(min(bucket.wait(now), max(0.0, deadline - now) + 0.001))

    # --- running ----------------------------------------------------------------------------------

    async def run(self) -> None:
        with anyio.CancelScope() as scope:
            self._scope = scope
            async with anyio.create_task_group() as tg:
                for bind in self.binds:
                    tg.start_soon(bind.run)
                if self.bucket is not None:
                    tg.start_soon(self._drain)

    async def close(self) -> None:
        """Unbind every bind (bounded) and stop reconnecting."""
        self.closing = True
        async with anyio.create_task_group() as tg:
            for bind in self.binds:
                tg.start_soon(bind.close)
        if self._scope is not None:
            self._scope.cancel()
        self.health = "down"

    def status(self) -> UpstreamStatus:
        self.bind_changed()  # an open circuit may have turned half-open since
        now = self.proxy.clock()
        then, submits = self._sampled
        if now - then >= 1.0:
            self._tps = (self.submits - submits) / (now - then)
            self._sampled = (now, self.submits)
        tps = self._tps
        return UpstreamStatus(
            name=self.name,
            health=self.health,
            since=self.since,
            binds=tuple(b.status() for b in self.binds),
            tps=tps,
            max_tps=self.config.max_tps,
            breaker=self.breaker.current(now),
            submits=self.submits,
            errors=self.errors,
            throttled=self.throttled,
            failovers=self.failovers,
            pooled=True,
        )
