"""The MT route table (issue 14): ordered rules, the first that matches a submit decides its upstreams.

A rule matches on the account (one or several), the destination (E.164 prefixes: digits, no ``+``,
country codes already turned into their calling code by the config), the source address and the
service_type; every condition left out matches anything. Its action is one or more upstreams and a
strategy (``failover`` in order, ``round_robin``, ``weighted``); applying the strategy is the
connectors' job, not this module's.

The lookup is by prefix, not a scan: rules with destination prefixes sit in a dict by prefix, the
destination's prefixes are looked up once per distinct prefix length, and within each candidate list
(in rule order) the first rule whose other conditions hold is the best from that list. With 1,000
prefix rules a lookup costs a few dict accesses (``tools/bench_routes.py``).

:func:`check_rules` is what the config load runs: a default route (matching everything) is required,
nothing may follow it, and no two rules may match the same things.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["RouteRule", "RouteTable", "Strategy", "check_rules"]

Strategy = Literal["failover", "round_robin", "weighted"]
STRATEGIES: tuple[Strategy, ...] = ("failover", "round_robin", "weighted")


@dataclass(frozen=True, slots=True)
class RouteRule:
    """One ``[[route]]``. Empty conditions match anything."""

    name: str
    upstreams: tuple[str, ...]
    strategy: Strategy = "failover"
    #: One weight per upstream (``weighted`` only).
    weights: tuple[int, ...] = ()
    accounts: frozenset[str] = frozenset()
    #: Destination prefixes as E.164 digits without ``+`` ("44", "3531").
    prefixes: frozenset[str] = frozenset()
    sources: frozenset[str] = frozenset()
    service_types: frozenset[str] = frozenset()

    @property
    def is_default(self) -> bool:
        """Matches every submit (no condition at all)."""
        return not (self.accounts or self.prefixes or self.sources or self.service_types)

    def accepts(self, account: str, source: str, service_type: str) -> bool:
        """The conditions other than the destination hold."""
        return (
            (not self.accounts or account in self.accounts)
            and (not self.sources or source in self.sources)
            and (not self.service_types or service_type in self.service_types)
        )

    def describe(self) -> str:
        conditions = [
            f"{name}={','.join(sorted(values))}"
            for name, values in (
                ("account", self.accounts),
                ("to", {"+" + p for p in self.prefixes}),
                ("from", self.sources),
                ("service_type", self.service_types),
            )
            if values
        ]
        target = (
            ", ".join(f"{u}({w})" for u, w in zip(self.upstreams, self.weights, strict=True))
            if self.weights
            else ", ".join(self.upstreams)
        )
        return f"{self.name}: {' '.join(conditions) or '(default)'} -> {self.strategy} [{target}]"


class RouteTable:
    """The rules, indexed for :meth:`match`."""

    def __init__(self, rules: Sequence[RouteRule]) -> None:
        self.rules = tuple(rules)
        by_prefix: dict[str, list[tuple[int, RouteRule]]] = {}
        anywhere: list[tuple[int, RouteRule]] = []
        for order, rule in enumerate(self.rules):
            if rule.prefixes:
                for prefix in rule.prefixes:
                    by_prefix.setdefault(prefix, []).append((order, rule))
            else:
                anywhere.append((order, rule))
        self._by_prefix = {prefix: tuple(rules) for prefix, rules in by_prefix.items()}
        self._anywhere = tuple(anywhere)
        self._lengths = tuple(sorted({len(prefix) for prefix in by_prefix}))

    def match(
        self, account: str, destination: str, source: str = "", service_type: str = ""
    ) -> RouteRule | None:
        """The first rule (in order) matching a submit; ``destination`` as E.164 digits (no ``+``)."""
        best_order = len(self.rules)
        best: RouteRule | None = None
        by_prefix = self._by_prefix
        for length in self._lengths:
            if length > len(destination):
                break
            candidates = by_prefix.get(destination[:length])
            if candidates is not None:
                for order, rule in candidates:
                    if order >= best_order:
                        break
                    if rule.accepts(account, source, service_type):
                        best_order, best = order, rule
                        break
        for order, rule in self._anywhere:
            if order >= best_order:
                break
            if rule.accepts(account, source, service_type):
                return rule
        return best


def check_rules(rules: Sequence[RouteRule], upstreams: Iterable[str]) -> tuple[list[str], list[str]]:
    """(errors, warnings) about a route table, each naming the rule."""
    errors: list[str] = []
    warnings: list[str] = []
    known = set(upstreams)
    seen: dict[tuple[frozenset[str], ...], str] = {}
    default: str | None = None
    for rule in rules:
        where = f"route {rule.name!r}"
        if not rule.upstreams:
            errors.append(f"{where}: at least one upstream is required")
        for upstream in rule.upstreams:
            if upstream not in known:
                errors.append(f"{where}: unknown upstream {upstream!r} (known: {', '.join(sorted(known))})")
        if len(set(rule.upstreams)) != len(rule.upstreams):
            errors.append(f"{where}: an upstream is listed twice")
        if rule.strategy == "weighted":
            if len(rule.weights) != len(rule.upstreams) or any(w <= 0 for w in rule.weights):
                errors.append(f"{where}: weighted needs one positive weight per upstream")
        elif rule.weights:
            errors.append(f"{where}: weights apply to the weighted strategy only")
        if default is not None:
            errors.append(f"{where}: unreachable, the default route {default!r} before it matches everything")
        key = (rule.accounts, rule.prefixes, rule.sources, rule.service_types)
        if key in seen:
            errors.append(
                f"{where}: matches exactly what route {seen[key]!r} before it matches (unreachable)"
            )
        else:
            seen[key] = rule.name
        if rule.is_default and default is None:
            default = rule.name
    if rules and default is None:
        errors.append("route: a default route is required (a last [[route]] with no match conditions)")
    for i, rule in enumerate(rules):
        for earlier in rules[:i]:
            if earlier.is_default or not _covers(earlier, rule):
                continue
            if not earlier.prefixes:
                warnings.append(
                    f"route {rule.name!r}: never matches, route {earlier.name!r} before it takes it all"
                )
                break
            taken = sorted(p for p in rule.prefixes if any(p.startswith(q) for q in earlier.prefixes))
            if taken and rule.prefixes:
                where = f"route {rule.name!r}"
                shown = ", ".join("+" + p for p in taken)
                warnings.append(f"{where}: {shown} never reached, route {earlier.name!r} before it takes it")
    return errors, warnings


def _covers(earlier: RouteRule, later: RouteRule) -> bool:
    """Whether ``earlier``'s conditions other than the destination accept all ``later`` accepts."""
    return all(
        not wide or (bool(narrow) and narrow <= wide)
        for wide, narrow in (
            (earlier.accounts, later.accounts),
            (earlier.sources, later.sources),
            (earlier.service_types, later.service_types),
        )
    )
