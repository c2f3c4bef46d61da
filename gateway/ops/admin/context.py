"""What the admin API needs from the process it runs in, as one small value (so it never sees the App).

The composing top (``gateway/app.py``) builds an :class:`AdminContext` from its store, change feed,
metrics, current config and a readiness callable; the handlers read nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, TypedDict

from gateway.config import Config, ScopeError, resolve_scope, scope_filter
from gateway.metrics import Metrics
from gateway.numbers import parse_user_number
from gateway.ops.admin.http import MAX_NUMBER, NUMBER_PATTERN, ApiError
from gateway.ops.admin.ratelimit import AuthFailures
from gateway.optout.changes import OptoutChanges
from gateway.store import ChangeFollower, Store


class ReadinessDetail(TypedDict):
    """What a readiness check found, as plain data for ``/readyz``."""

    #: Check name (``"upstream sim"``) -> ``"ok"`` or what is wrong (``"unreachable"``).
    checks: dict[str, str]
    #: One sentence per problem (empty when ready).
    reasons: list[str]


#: The proxy's side of readiness: ``(ok, detail)``, every upstream of a bound account up.
Readiness = Callable[[], tuple[bool, ReadinessDetail]]


class LockoutRecord(TypedDict):
    """A bind lockout in force, as plain data: ``ip``, ``system_id``, ``remaining_seconds``, ``count``."""

    ip: str
    system_id: str
    remaining_seconds: float
    count: int


def _no_lockouts() -> list[LockoutRecord]:
    return []


class BindView(Protocol):
    """One upstream bind as the proxy reports it (:class:`gateway.proxy.pool_status.BindStatus`)."""

    @property
    def index(self) -> int: ...
    @property
    def mode(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def since(self) -> float: ...
    @property
    def in_flight(self) -> int: ...


class UpstreamView(Protocol):
    """One upstream as the proxy reports it (:class:`gateway.proxy.pool_status.UpstreamStatus`)."""

    @property
    def name(self) -> str: ...
    @property
    def health(self) -> str: ...
    @property
    def since(self) -> float: ...
    @property
    def binds(self) -> Sequence[BindView]: ...
    @property
    def tps(self) -> float: ...
    @property
    def max_tps(self) -> float | None: ...
    @property
    def breaker(self) -> str: ...
    @property
    def submits(self) -> int: ...
    @property
    def errors(self) -> int: ...
    @property
    def throttled(self) -> int: ...
    @property
    def failovers(self) -> int: ...
    @property
    def pooled(self) -> bool: ...


def _no_upstreams() -> Sequence[UpstreamView]:
    return []


def _nothing_to_unlock(ip: str, system_id: str | None) -> list[LockoutRecord]:
    return []


@dataclass(frozen=True, kw_only=True, slots=True)
class AdminContext:
    store: Store
    #: Brings the in-memory index up to date after a commit made here, before the response is sent.
    feed: ChangeFollower
    metrics: Metrics
    #: The config in force: read on every request, so a SIGHUP reload changes tokens and scopes.
    config: Callable[[], Config]
    readiness: Readiness
    #: The proxy's bind lockouts in force, and how to lift them (``unlock(ip, system_id or None)``
    #: returns those lifted): held by the running proxy, so the CLI asks here.
    lockouts: Callable[[], list[LockoutRecord]] = _no_lockouts
    unlock: Callable[[str, str | None], list[LockoutRecord]] = _nothing_to_unlock
    #: A snapshot of each upstream and its binds (``GET /v1/upstreams``), taken by the running proxy.
    upstreams: Callable[[], Sequence[UpstreamView]] = _no_upstreams
    #: The ``/metrics`` body, when it is more than this process's registry (every worker's, under
    #: ``stopgate run --workers``).
    scrape: Callable[[], Awaitable[bytes]] | None = None
    #: Failed authentications per client address (429 past the limit).
    auth_failures: AuthFailures = field(default_factory=AuthFailures)

    def scope(self, value: str | None, *, required: bool) -> str | None:
        """A configured scope; with ``required`` and none given, the only one configured."""
        config = self.config()
        if value is not None and not value:
            raise ApiError(400, "scope must not be empty (omit it instead)")
        try:
            if required:
                return resolve_scope(config, value or None, choose="pass scope")
            return scope_filter(config, value or None)
        except ScopeError as exc:
            raise ApiError(400, str(exc)) from None

    def changes(self) -> OptoutChanges:
        """Where an opt-out change made here is committed, indexed and counted, as the engine's are."""
        return OptoutChanges(self.store, self.feed, self.metrics)

    def number(self, text: str) -> str:
        """A number as written by a user, in E.164 (raises ``InvalidNumber``)."""
        if len(text) > MAX_NUMBER or not re.fullmatch(NUMBER_PATTERN, text):
            raise ApiError(
                400,
                f"{text[:MAX_NUMBER]!r} is not a phone number: expected digits, an optional leading '+' "
                f"and separators ( ) . - / space, at most {MAX_NUMBER} characters",
            )
        return parse_user_number(text, self.config().numbers.default_country)
