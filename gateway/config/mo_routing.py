"""MO routing: ``numbers`` of an ``[[account]]``, ``[[mo_route]]`` rules and ``[mo] default_account``.

::

    [[account]]
    system_id = "acme"
    numbers = ["60006", "+447700900000", { number = "60007", keyword = "FINISH" }]

    [[mo_route]]              # the same thing, kept apart from the accounts
    number = "60008"
    keyword = "JOIN"          # optional: only MOs whose first word is JOIN
    account = "acme"

    [mo]
    default_account = "acme"  # MOs no rule matches; without it, the account of the bind they came on
    route_receipts = true     # receipts by message id to the sending account (shared upstreams)
    receipt_ttl = 259200.0    # how long message ids are kept to route receipts

The rules are checked together (:class:`~gateway.policy.mo_routes.MoRouter`): one number (and
keyword) routed to two accounts is an error.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.config.errors import ConfigError
from gateway.config.reader import Table, show
from gateway.config.schema import AccountConfig, MoConfig
from gateway.policy.mo_routes import MoRoute, MoRouter

MO_KEYS = frozenset({"default_account", "route_receipts", "receipt_ttl"})
MO_ROUTE_KEYS = frozenset({"number", "keyword", "account"})
_NUMBER_KEYS = frozenset({"number", "keyword"})


def parse_account_numbers(t: Table, system_id: str) -> tuple[MoRoute, ...]:
    """An account's ``numbers``: strings, or tables ``{ number = ..., keyword = ... }``."""
    if not t.has("numbers"):
        return ()
    raw = t.array_of_tables("numbers")
    routes = []
    for i, item in enumerate(raw):
        key = f"numbers[{i}]"
        if isinstance(item, str):
            routes.append(_route(t, key, item, None, system_id))
        elif isinstance(item, dict):
            entry = Table(item, t.key(key), _NUMBER_KEYS, t.errors)
            number = entry.required_str("number")
            keyword = entry.string("keyword", "", nonempty=True) if entry.has("keyword") else None
            routes.append(_route(t, key, number, keyword, system_id))
        else:
            t.fail(key, f"expected a number or {{ number = ..., keyword = ... }}, got {show(item)}")
    return tuple(routes)


def parse_mo_route(t: Table, accounts: Mapping[str, AccountConfig]) -> MoRoute:
    account = t.required_str("account")
    if account not in accounts:
        t.fail("account", f"unknown account {account!r} (known: {', '.join(accounts)})")
    keyword = t.string("keyword", "", nonempty=True) if t.has("keyword") else None
    return _route(t, "number", t.required_str("number"), keyword, account)


def parse_mo(t: Table, routes: tuple[MoRoute, ...], accounts: Mapping[str, AccountConfig]) -> MoConfig:
    default = t.string("default_account", "", nonempty=True) if t.has("default_account") else None
    if default is not None and default not in accounts:
        t.fail("default_account", f"unknown account {default!r} (known: {', '.join(accounts)})")
    try:
        MoRouter(routes)
    except ValueError as exc:
        raise ConfigError(f"mo_route: {exc}", key="mo_route") from None
    ttl = t.seconds("receipt_ttl", MoConfig().receipt_ttl, allow_zero=True)
    route_receipts = t.boolean("route_receipts", MoConfig().route_receipts)
    return MoConfig(routes=routes, default_account=default, route_receipts=route_receipts, receipt_ttl=ttl)


def _route(t: Table, key: str, number: str, keyword: str | None, account: str) -> MoRoute:
    route = MoRoute(number=number.strip(), account=account, keyword=keyword)
    try:
        MoRouter((route,))
    except ValueError as exc:
        t.fail(key, str(exc))
    return route
