"""What the console needs from the process: the store, the config in force, and the commit path.

The admin server builds it from its own context, so a change made in the console is committed,
counted and applied to the proxy's index exactly as one made through ``/v1/suppressions``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from jinja2 import Environment, PackageLoader, select_autoescape

from gateway.config import Config, configured_scopes
from gateway.numbers import parse_user_number
from gateway.ops.console.sessions import Sessions, SignInLimiter
from gateway.store import Store


class Commit(Protocol):
    """Commit one opt-out or opt-in; True if the number's state changed."""

    async def __call__(self, *, scope: str, number: str, operator: str, reason: str) -> bool: ...


def templates() -> Environment:
    """The page templates, escaped by default (every value on a page came from outside)."""
    env = Environment(
        loader=PackageLoader("gateway.ops.console", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["thousands"] = lambda n: f"{n:,}"
    return env


@dataclass(kw_only=True)
class ConsoleContext:
    store: Store
    #: The config in force, read on every request (a reload changes tokens, roles and scopes).
    config: Callable[[], Config]
    opt_out: Commit
    opt_in: Commit
    #: A snapshot of each upstream and its binds, taken by the running proxy (none without one): values
    #: with the attributes of :class:`gateway.proxy.pool_status.UpstreamStatus`, read by the template
    #: (the admin API hands over its own ``upstreams``; the console imports nothing of the proxy).
    upstreams: Callable[[], Sequence[Any]] = list
    sessions: Sessions = field(default_factory=Sessions)
    limiter: SignInLimiter = field(default_factory=SignInLimiter)
    env: Environment = field(default_factory=templates)

    def scopes(self) -> list[str]:
        return sorted(configured_scopes(self.config()))

    def number(self, text: str) -> str:
        """A number as a person writes it, in E.164 as the proxy reads it off the wire (TON unknown)."""
        return parse_user_number(text, self.config().numbers.default_country)
