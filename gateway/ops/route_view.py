"""What the operator sees of the MT route table: ``stopgate routes check`` and ``GET /v1/routes``."""

from __future__ import annotations

from typing import Any

from gateway.config import Config
from gateway.numbers import parse_user_number
from gateway.policy.routes import RouteRule, RouteTable


def rule_json(rule: RouteRule) -> dict[str, Any]:
    return {
        "name": rule.name,
        "accounts": sorted(rule.accounts),
        "prefixes": sorted("+" + p for p in rule.prefixes),
        "sources": sorted(rule.sources),
        "service_types": sorted(rule.service_types),
        "upstreams": list(rule.upstreams),
        "strategy": rule.strategy,
        "weights": list(rule.weights),
    }


def routes_json(config: Config) -> dict[str, Any]:
    """The route table in order, and what applies without one."""
    return {
        "configured": bool(config.routes),
        "routes": [rule_json(rule) for rule in config.routes],
        "accounts_without_routes": {a.system_id: a.upstream for a in config.accounts.values()},
        "mo_routes": [
            {"number": r.number, "keyword": r.keyword, "account": r.account} for r in config.mo.routes
        ],
        "mo_default_account": config.mo.default_account,
    }


def check_route(
    config: Config, account: str, to: str, source: str = "", service_type: str = ""
) -> dict[str, Any]:
    """Which rule takes a submit of ``account`` to ``to`` (normalised as the suppression check
    normalises it), and its upstreams in order. Raises KeyError for an unknown account,
    InvalidNumber for a number that is not one."""
    acct = config.accounts[account]
    e164 = parse_user_number(to, config.numbers.default_country)
    if not config.routes:
        return {"to": e164, "route": None, "upstreams": [acct.upstream], "strategy": "failover"}
    rule = RouteTable(config.routes).match(account, e164.removeprefix("+"), source, service_type)
    assert rule is not None  # the load checked a default route exists
    return {
        "to": e164,
        "route": rule.name,
        "upstreams": list(rule.upstreams),
        "strategy": rule.strategy,
        "rule": rule.describe(),
    }
