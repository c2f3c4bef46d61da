"""The MT route table (issue 14): ordered rules, the first that matches a submit decides its upstreams.

A rule matches on the account (one or several), the destination (E.164 prefixes: digits, no ``+``,
country codes already turned into their calling code by the config), the source address and the
service_type; every condition left out matches anything. Its action is one or more upstreams and a
strategy (``failover`` in order, ``round_robin``, ``weighted``); applying the strategy is the
connectors' job, not this module's.

The lookup is by prefix, not a scan (:class:`RouteTable`): a few dict accesses whatever the number
of rules (``tools/bench_routes.py``).

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
    """The rules, indexed for :meth:`match`.

    Each destination prefix named by a rule maps to every rule that can match a number starting with
    it (the rules of that prefix, of its shorter prefixes, and those with no prefix), in rule order.
    A lookup finds the longest such prefix of the destination (one dict access per prefix length,
    longest first, stopping at the first hit) and returns the first of its rules whose other
    conditions hold: usually the first one.
    """

    def __init__(self, rules: Sequence[RouteRule]) -> None:
        self.rules = tuple(rules)
        own: dict[str, list[int]] = {}
        anywhere: list[int] = []
        for order, rule in enumerate(self.rules):
            for prefix in rule.prefixes:
                own.setdefault(prefix, []).append(order)
            if not rule.prefixes:
                anywhere.append(order)
        self._lengths = tuple(sorted({len(prefix) for prefix in own}, reverse=True))
        self._by_prefix: dict[str, tuple[tuple[RouteRule, bool], ...]] = {}
        for prefix in own:
            orders = set(anywhere)
            for length in range(1, len(prefix) + 1):
                orders.update(own.get(prefix[:length], ()))
            self._by_prefix[prefix] = self._candidates(sorted(orders))
        self._anywhere = self._candidates(anywhere)

    def _candidates(self, orders: Iterable[int]) -> tuple[tuple[RouteRule, bool], ...]:
        """(rule, whether it needs no check beyond the destination), in rule order."""
        rules = self.rules
        return tuple(
            (rules[order], not (rules[order].accounts or rules[order].sources or rules[order].service_types))
            for order in orders
        )

    def match(
        self, account: str, destination: str, source: str = "", service_type: str = ""
    ) -> RouteRule | None:
        """The first rule (in order) matching a submit; ``destination`` as E.164 digits (no ``+``)."""
        by_prefix = self._by_prefix
        candidates = self._anywhere
        size = len(destination)
        for length in self._lengths:
            if length <= size:
                found = by_prefix.get(destination[:length])
                if found is not None:
                    candidates = found
                    break
        for rule, unconditional in candidates:
            if unconditional or rule.accepts(account, source, service_type):
                return rule
        return None


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
