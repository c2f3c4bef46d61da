"""Reachability of each upstream while no ESME session of it is bound: a TCP connect, no bind.

A bound session's upstream link says whether its SMSC is up; with nothing bound, nothing would notice
a dead SMSC. So every ``probe_interval`` seconds each such upstream gets one TCP connect (closed at
once: light on the SMSC, which sees a connection without a bind), and the result is kept here for
``/readyz`` and the ``stopgate_upstream_up`` metric.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import anyio

from gateway.config import UpstreamConfig


async def reachable(upstream: UpstreamConfig) -> bool:
    """Whether a TCP connection to ``upstream`` opens within its bind_timeout."""
    try:
        with anyio.fail_after(upstream.bind_timeout):
            stream = await anyio.connect_tcp(upstream.host, upstream.port)
        await stream.aclose()
        return True
    except (OSError, TimeoutError):
        return False


class UpstreamProbe:
    """Probes each upstream no session is bound to, every ``probe_interval`` seconds (its own)."""

    def __init__(
        self,
        upstreams: Callable[[], Iterable[UpstreamConfig]],
        in_use: Callable[[str], bool],
        on_result: Callable[[str, bool], None] | None = None,
        tick: float = 0.5,
    ) -> None:
        self.upstreams = upstreams
        self.in_use = in_use
        self.on_result = on_result
        self.tick = tick
        #: The last probe's result per upstream name (absent: not probed yet, or bound meanwhile).
        self.results: dict[str, bool] = {}
        self._due: dict[str, float] = {}

    async def run(self) -> None:
        while True:
            now = anyio.current_time()
            for upstream in list(self.upstreams()):
                name = upstream.name
                if upstream.probe_interval <= 0 or self.in_use(name):
                    self.results.pop(name, None)
                    continue
                due = self._due.setdefault(name, now + upstream.probe_interval)  # first one an interval in
                if due > now:
                    continue
                self._due[name] = now + upstream.probe_interval
                up = await reachable(upstream)
                if not self.in_use(name):
                    self.results[name] = up
                    if self.on_result is not None:
                        self.on_result(name, up)
            # Asleep until the next probe is due (re-checked at most every probe interval).
            upcoming = [due for due in self._due.values() if due > now] or [now + self.tick]
            await anyio.sleep(max(self.tick, min(upcoming) - anyio.current_time()))
