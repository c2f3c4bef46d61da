"""Upstream status in per-session mode (no ``[[route]]``): each bound ESME session holds its own bind.

What :meth:`gateway.proxy.server.Proxy.upstream_status` reports when Stopgate does not hold the
upstreams' binds itself: one :class:`~.pool_status.BindStatus` per bound session's upstream link
(``pooled`` false). Health: ``bound`` when every such link is up, ``degraded`` when some are,
``down`` when none is; an upstream no session is bound to reports its last connect probe
(``bound`` when reachable or not probed yet, ``down`` when unreachable) with no binds. Per-session
mode has no throughput limit, breaker or route counters: those read ``None`` / ``closed`` / 0.

The proxy keeps no state-change times for sessions, so this module remembers when it first saw each
bind and health state (wall clock), per proxy, and drops what it no longer sees.
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Collection
from typing import Protocol

from gateway.config import Config

from .pool_status import BindState, BindStatus, Health, UpstreamStatus
from .session import EsmeSession


class SessionsHost(Protocol):
    """What this reads of the proxy (:class:`~.server.Proxy`)."""

    @property
    def config(self) -> Config: ...

    @property
    def sessions(self) -> Collection[EsmeSession]: ...

    def upstream_probes(self) -> dict[str, bool]: ...


class _Since:
    """When each observed value was first seen with its current state."""

    def __init__(self) -> None:
        self.states: dict[object, tuple[str, float]] = {}

    def since(self, key: object, state: str, now: float) -> float:
        seen = self.states.get(key)
        if seen is None or seen[0] != state:
            seen = self.states[key] = (state, now)
        return seen[1]

    def keep(self, keys: set[object]) -> None:
        for key in set(self.states) - keys:
            del self.states[key]


_MEMORY: weakref.WeakKeyDictionary[SessionsHost, _Since] = weakref.WeakKeyDictionary()


def upstream_status(proxy: SessionsHost, now: float | None = None) -> list[UpstreamStatus]:
    """A snapshot of every configured upstream, in config order (per-session mode)."""
    now = time.time() if now is None else now
    memory = _MEMORY.setdefault(proxy, _Since())
    by_upstream: dict[str, list[EsmeSession]] = {}
    for session in list(proxy.sessions):
        if session.bound:
            by_upstream.setdefault(session.account.upstream, []).append(session)
    probes = proxy.upstream_probes()
    seen: set[object] = set()
    result = []
    for name in proxy.config.upstreams:
        sessions = sorted(by_upstream.get(name, ()), key=lambda s: s.session_id)
        binds = []
        for index, session in enumerate(sessions):
            link = session.upstream
            state: BindState = "bound" if link is not None and not link.closed else "down"
            key = ("bind", session.session_id)
            seen.add(key)
            binds.append(
                BindStatus(
                    index=index,
                    mode=session.bind_mode.name.lower(),
                    state=state,
                    since=memory.since(key, state, now),
                    in_flight=link.conn.outstanding if link is not None and state == "bound" else 0,
                )
            )
        up = sum(b.state == "bound" for b in binds)
        health: Health
        if binds:
            health = "bound" if up == len(binds) else "degraded" if up else "down"
        else:
            health = "down" if probes.get(name) is False else "bound"
        key = ("upstream", name)
        seen.add(key)
        result.append(
            UpstreamStatus(
                name=name,
                health=health,
                since=memory.since(key, health, now),
                binds=tuple(binds),
                tps=0.0,
                max_tps=None,
                breaker="closed",
                submits=0,
                errors=0,
                throttled=0,
                failovers=0,
                pooled=False,
            )
        )
    memory.keep(seen)
    return result
