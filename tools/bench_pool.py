"""Pooled mode (issue 14): routing cost, failover switch time and ``max_tps`` held, in process.

    python -m tools.bench_pool                     # all: 5 failovers, 10 s at max_tps 200
    python -m tools.bench_pool --failovers 10 --tps 500 --seconds 10

Failover: Stopgate holds one bind to each of two simulated SMSCs, route ``failover [a, b]``; a client
submits one message at a time; SMSC a resets every connection (TCP RST) and refuses binds. The switch
time is from the reset to the first submit accepted by b, reported with the direct round trip of one
submit to a simulator, measured in the same run, as the reference (ratio). Silent death: a stops
answering anything, enquire_link included (every second here): the time until a is seen down and
until the first submit accepted by b (submits sent every 20 ms; those that went to a get
ESME_RSYSERR, never resent). With traffic flowing the circuit breaker sees it first (its
``breaker_failures`` timeouts after ``response_timeout``); an idle bind is closed when an enquire_link
goes unanswered for ``response_timeout``.

max_tps: one upstream with ``max_tps``; 8 clients keep 64 submits in flight for ``--seconds`` and the
simulator counts what it accepted: the rate held is that count over the time, against ``max_tps``
(target within 5%; the first second's burst, ``max_tps`` tokens, is left out of the count).

Throughput through a pool of 4 binds vs 1 is ``python -m tools.bench --pooled 4`` vs ``--pooled 1``
(each against the direct path in the same run).
"""

from __future__ import annotations

import argparse
import contextlib
import statistics
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import structlog

from gateway.app import App
from gateway.config import SessionConfig, UpstreamConfig, parse_config
from gateway.proxy.link import Link
from gateway.proxy.upstream import bind_upstream, connect_upstream
from gateway.smpp.constants import BindMode, CommandStatus
from gateway.smpp.pdu import SubmitSm
from tools.smsc_sim import SimulatedSmsc

S = CommandStatus


def config(
    directory: Path,
    smscs: dict[str, Any],
    route: dict[str, Any],
    *,
    account_upstream: str = "a",
    **extra: Any,
) -> Any:
    upstreams = [
        {
            "name": name,
            "host": "127.0.0.1",
            "port": smsc.port,
            "system_id": "proxy",
            "password": "proxypw",
            "reconnect_backoff_initial": 0.05,
            "reconnect_backoff_max": 0.5,
            **extra.get(name, {}),
        }
        for name, smsc in smscs.items()
    ]
    return parse_config(
        {
            "listen": {"host": "127.0.0.1", "port": 0},
            "storage": {"path": "stopgate.db"},
            "numbers": {"default_country": "GB"},
            "logging": {"format": "json", "level": "error"},
            "session": {"response_timeout": 2.0, "enquire_link_interval": 1.0},
            "admin": {"enabled": False},
            "upstream": upstreams,
            "account": [
                {
                    "system_id": "bench",
                    "password": "benchpw",
                    "upstream": account_upstream,
                    "traffic": "transactional",
                }
            ],
            "route": [route],
        },
        directory,
    )


async def client(port: int, system_id: str = "bench", password: str = "benchpw") -> Link:
    target = UpstreamConfig(
        name="stopgate", host="127.0.0.1", port=port, system_id=system_id, password=password
    )
    link = await connect_upstream(target, SessionConfig(), log=structlog.get_logger("bench"))
    return link


async def with_client(port: int, work: Any, system_id: str = "bench", password: str = "benchpw") -> Any:
    link = await client(port, system_id, password)
    target = UpstreamConfig(
        name="stopgate", host="127.0.0.1", port=port, system_id=system_id, password=password
    )
    async with anyio.create_task_group() as tg:
        tg.start_soon(link.run, lambda link, event: None)
        await bind_upstream(link, target, BindMode.TRANSMITTER)
        result = await work(link)
        await link.unbind(1.0)
        tg.cancel_scope.cancel()
    return result


def submit() -> SubmitSm:
    return SubmitSm(
        source_addr="BENCH", destination_addr="33612345678", dest_addr_ton=1, short_message=b"code 1234"
    )


@contextlib.asynccontextmanager
async def failover_pair(directory: Path) -> AsyncIterator[tuple[App, dict[str, SimulatedSmsc], Any]]:
    """Stopgate on a failover route over simulators a then b: the app, the simulators, a's pool."""
    smscs = {n: SimulatedSmsc(users={"proxy": "proxypw"}, message_id_prefix=f"{n}-") for n in "ab"}
    async with anyio.create_task_group() as tg:
        for smsc in smscs.values():
            await tg.start(smsc.serve)
        app = App(config(directory, smscs, {"name": "main", "upstreams": ["a", "b"], "strategy": "failover"}))
        await tg.start(app.run)
        assert app.proxy is not None and app.proxy.router is not None
        yield app, smscs, app.proxy.router.pools["a"]
        await app.stop()
        for smsc in smscs.values():
            await smsc.stop()
        tg.cancel_scope.cancel()


async def failover_runs(directory: Path, runs: int) -> tuple[list[float], float]:
    switches: list[float] = []
    async with failover_pair(directory) as (app, smscs, pool_a):
        assert app.proxy is not None

        async def direct(link: Link) -> float:
            times = []
            for _ in range(200):
                start = time.perf_counter()
                await link.request(submit(), 5.0)
                times.append(time.perf_counter() - start)
            return statistics.median(times)

        direct_rtt = await with_client(smscs["b"].port, direct, "proxy", "proxypw")

        async def measure(link: Link) -> None:
            for _ in range(runs):
                while pool_a.health == "down":
                    await anyio.sleep(0.05)
                await link.request(submit(), 5.0)
                smscs["a"].refuse_binds(True)
                reset = time.perf_counter()
                async with anyio.create_task_group() as killer:
                    killer.start_soon(smscs["a"].disconnect_all)
                    while True:
                        resp = await link.request(submit(), 5.0)
                        if resp.command_status == S.ESME_ROK and resp.message_id.startswith("b-"):  # type: ignore[attr-defined]
                            switches.append(time.perf_counter() - reset)
                            break
                smscs["a"].refuse_binds(False)

        await with_client(app.proxy.port, measure)
    return switches, direct_rtt


async def silent_death(directory: Path) -> tuple[float, float]:
    """The primary stops answering anything (enquire_link included): seconds until its bind is seen
    dead, and until the first submit accepted by the next upstream (submits sent every 20 ms)."""
    async with failover_pair(directory) as (app, smscs, pool_a):
        assert app.proxy is not None
        while pool_a.health == "down":
            await anyio.sleep(0.05)
        seen: list[float] = []

        async def measure(link: Link) -> float:
            accepted = anyio.Event()
            start = time.perf_counter()
            found: list[float] = []

            async def one() -> None:
                resp = await link.request(submit(), 10.0)
                ok = resp.command_status == S.ESME_ROK and resp.message_id.startswith("b-")  # type: ignore[attr-defined]
                if ok and not found:
                    found.append(time.perf_counter() - start)
                    accepted.set()

            async with anyio.create_task_group() as senders:
                smscs["a"].stall(True, enquire_link=True, binds=True)
                start = time.perf_counter()
                while not accepted.is_set():
                    if pool_a.health == "down" and not seen:
                        seen.append(time.perf_counter() - start)
                    senders.start_soon(one)
                    await anyio.sleep(0.02)
                senders.cancel_scope.cancel()
            return found[0]

        switched = await with_client(app.proxy.port, measure)
    return (seen[0] if seen else switched), switched


async def tps_run(directory: Path, tps: float, seconds: float) -> float:
    smscs = {"a": SimulatedSmsc(users={"proxy": "proxypw"})}
    async with anyio.create_task_group() as tg:
        await tg.start(smscs["a"].serve)
        extra: dict[str, Any] = {"max_tps": tps, "max_tps_wait": 1.0, "binds": 2}
        app = App(config(directory, smscs, {"name": "main", "upstreams": ["a"]}, a=extra))
        await tg.start(app.run)
        assert app.proxy is not None
        await anyio.sleep(1.0)
        counted: list[int] = []

        async def load(link: Link) -> None:
            async def one() -> None:
                while True:
                    await link.request(submit(), 5.0)

            async with anyio.create_task_group() as senders:
                for _ in range(64):
                    senders.start_soon(one)
                await anyio.sleep(1.0)  # the burst passes
                counted.append(smscs["a"].submit_count)
                await anyio.sleep(seconds)
                counted.append(smscs["a"].submit_count)
                senders.cancel_scope.cancel()

        async with anyio.create_task_group() as clients:
            for _ in range(8):
                clients.start_soon(with_client, app.proxy.port, load)
        await app.stop()
        await smscs["a"].stop()
        tg.cancel_scope.cancel()
    # Each client took its own two counts: the widest span is the one measured by all eight.
    return (max(counted) - min(counted)) / (seconds + 0.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--failovers", type=int, default=5)
    parser.add_argument("--tps", type=float, default=200.0)
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))
    pick, alone = pick_cost()
    print(
        f"route lookup + upstream pick, 1,000 prefix rules: {pick:.2f} us per submit"
        f" (destination normalised; RouteTable.match alone {alone:.2f} us)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        switches, direct_rtt = anyio.run(failover_runs, Path(tmp), args.failovers)
        median = statistics.median(switches)
        print(
            f"failover switch (RST -> first submit accepted by the next upstream), {len(switches)} runs:"
            f" median {median * 1000:.1f} ms, max {max(switches) * 1000:.1f} ms;"
            f" direct submit round trip {direct_rtt * 1000:.2f} ms (ratio {median / direct_rtt:.0f}x)"
        )
    with tempfile.TemporaryDirectory() as tmp:
        dead, switched = anyio.run(silent_death, Path(tmp))
        print(
            f"silent death (enquire_link every 1 s, response_timeout 2 s): bind seen dead after {dead:.2f} s,"
            f" first submit accepted by the next upstream after {switched:.2f} s"
        )
    with tempfile.TemporaryDirectory() as tmp:
        rate = anyio.run(tps_run, Path(tmp), args.tps, args.seconds)
        print(
            f"max_tps {args.tps:g}: held {rate:.1f}/s over {args.seconds:g} s"
            f" ({(rate / args.tps - 1) * 100:+.1f}% of max_tps)"
        )


def pick_cost(rules: int = 1000, count: int = 100_000) -> tuple[float, float]:
    """µs per submit for the route lookup + upstream pick of pooled mode, and for RouteTable.match alone."""
    from types import SimpleNamespace

    from gateway.proxy.pool_router import PoolRouter
    from tools.bench_routes import destinations, make_rules

    table_rules = make_rules(rules)
    names = sorted({u for r in table_rules for u in r.upstreams})
    with tempfile.TemporaryDirectory() as tmp:
        smscs = {name: SimpleNamespace(port=2775 + i) for i, name in enumerate(names)}
        data = config(Path(tmp), smscs, {"name": "x", "upstreams": [names[0]]}, account_upstream=names[0])
    conf = data.__class__(
        **{**{f: getattr(data, f) for f in data.__dataclass_fields__}, "routes": tuple(table_rules)}
    )
    proxy = SimpleNamespace(clock=time.monotonic, log=structlog.get_logger("bench"), pdu_counts=None)
    router = PoolRouter(proxy, conf)
    for pool in router.pools.values():
        for bind in pool.binds:
            bind.state = "bound"
    pdus = [SubmitSm(source_addr="BENCH", destination_addr=d, dest_addr_ton=1) for d in destinations(count)]
    rule_for, choose = router.rule_for, router.choose
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for pdu in pdus:
            rule = rule_for("acme", pdu)
            choose(rule)  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - start)
    match = router.table.match
    digits = destinations(count)
    alone = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        for d in digits:
            match("acme", d)
        alone = min(alone, time.perf_counter() - start)
    return best / count * 1e6, alone / count * 1e6


if __name__ == "__main__":
    main()
