"""The MT route table's cost per message (issue 14): one :meth:`RouteTable.match` with N prefix rules.

    python -m tools.bench_routes                   # 1,000 prefix rules, 200,000 lookups, best of 5
    python -m tools.bench_routes --rules 10000 --count 500000

The rules are what a large table looks like: per-country and per-operator prefixes of 1 to 6 digits
(some limited to accounts, some to a service_type), a default route last. Destinations are E.164
digits (the suppression check has normalised them already), mixed so that most hit a prefix rule and
some fall through to the default. Target: <= 2 us per lookup (a lookup by prefix, not a scan).
"""

from __future__ import annotations

import argparse
import random
import time

from gateway.policy.routes import RouteRule, RouteTable


def make_rules(n: int, seed: int = 14) -> list[RouteRule]:
    rng = random.Random(seed)
    rules: list[RouteRule] = []
    seen: set[str] = set()
    while len(rules) < n - 1:
        prefix = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(rng.randint(0, 5)))
        if prefix in seen:
            continue
        seen.add(prefix)
        kind = len(rules) % 10
        rules.append(
            RouteRule(
                name=f"r{len(rules)}",
                upstreams=(f"smsc{len(rules) % 4}", f"smsc{(len(rules) + 1) % 4}"),
                accounts=frozenset({"acme"}) if kind == 0 else frozenset(),
                service_types=frozenset({"OTP"}) if kind == 1 else frozenset(),
                prefixes=frozenset({prefix}),
            )
        )
    rules.append(RouteRule(name="default", upstreams=("smsc0",)))
    return rules


def destinations(count: int, seed: int = 15) -> list[str]:
    rng = random.Random(seed)
    return [
        "".join(str(rng.randint(1 if i == 0 else 0, 9)) for i in range(rng.randint(10, 13)))
        for _ in range(count)
    ]


def run(rules: int, count: int, repeat: int) -> float:
    table = RouteTable(make_rules(rules))
    dests = destinations(count)
    accounts = ("acme", "beta", "gamma")
    match = table.match
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for i, dest in enumerate(dests):
            match(accounts[i % 3], dest, "ACME", "")
        best = min(best, (time.perf_counter() - start) / count)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--count", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    per = run(args.rules, args.count, args.repeat)
    print(
        f"route lookup: {per * 1e6:.2f} us per message with {args.rules} prefix rules (best of {args.repeat})"
    )


if __name__ == "__main__":
    main()
