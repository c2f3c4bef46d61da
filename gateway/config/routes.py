"""``[[route]]``: the MT route table (issue 14), checked at load (:func:`gateway.policy.routes.check_rules`).

::

    [[route]]
    name = "uk"                        # default: "route<N>"
    accounts = ["acme"]                # any of: accounts, prefixes, countries, sources, service_types
    prefixes = ["+447", "+4420"]       # E.164 prefixes (the "+" optional)
    countries = ["GB"]                 # ISO 3166 regions, as their calling code (GB -> +44)
    upstreams = ["uk-smsc", "agg"]     # (required) in order
    strategy = "failover"              # failover | round_robin | weighted
    # weights = [3, 1]                 # weighted only: one per upstream

    [[route]]                          # the default route: no conditions, last
    name = "default"
    upstreams = ["agg"]

Without any ``[[route]]`` every account's submits go to its own ``upstream``, as before routing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import phonenumbers

from gateway.config.errors import ConfigError
from gateway.config.reader import Table
from gateway.config.schema import UpstreamConfig
from gateway.policy.routes import STRATEGIES, RouteRule, Strategy, check_rules

ROUTE_KEYS = frozenset(
    {"name", "accounts", "prefixes", "countries", "sources", "service_types"}
    | {"upstreams", "strategy", "weights"}
)


def parse_route(t: Table, index: int) -> RouteRule:
    prefixes = set()
    for i, raw in enumerate(t.str_list("prefixes", ())):
        digits = raw.strip().removeprefix("+")
        if not digits.isdigit() or len(digits) > 15 or digits.startswith("0"):
            t.fail(f"prefixes[{i}]", f"expected an E.164 prefix such as '+447', got {raw!r}")
        prefixes.add(digits)
    for i, region in enumerate(t.str_list("countries", ())):
        code = phonenumbers.country_code_for_region(region.strip().upper())
        if not code:
            t.fail(f"countries[{i}]", f"unknown country {region!r} (ISO 3166 alpha-2, e.g. 'GB')")
        prefixes.add(str(code))
    weights: tuple[int, ...] = ()
    if t.has("weights"):
        raw_weights = t.data.get("weights")
        if not isinstance(raw_weights, list) or not all(isinstance(w, int) and w > 0 for w in raw_weights):
            t.fail("weights", "expected an array of positive integers")
        weights = tuple(raw_weights)
    return RouteRule(
        name=t.string("name", f"route{index}", nonempty=True),
        upstreams=tuple(t.str_list("upstreams", ())),
        strategy=cast(Strategy, t.choice("strategy", "failover", STRATEGIES)),
        weights=weights,
        accounts=frozenset(t.str_list("accounts", ())),
        prefixes=frozenset(prefixes),
        sources=frozenset(t.str_list("sources", ())),
        service_types=frozenset(t.str_list("service_types", ())),
    )


def check_routes(
    rules: tuple[RouteRule, ...], upstreams: Mapping[str, UpstreamConfig], accounts: Mapping[str, object]
) -> list[str]:
    """Raise :class:`ConfigError` listing what is wrong with the table; return its warnings."""
    errors, warnings = check_rules(rules, upstreams)
    for rule in rules:
        for account in sorted(rule.accounts - set(accounts)):
            errors.append(f"route {rule.name!r}: unknown account {account!r}")
    names = [rule.name for rule in rules]
    for name in sorted({n for n in names if names.count(n) > 1}):
        errors.append(f"route {name!r}: two routes have this name")
    if errors:
        raise ConfigError.of([ConfigError(e) for e in errors])
    return warnings
