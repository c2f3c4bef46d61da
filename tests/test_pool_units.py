"""The pure parts of pooled mode (issue 14): the circuit breaker, the max_tps token bucket, the
strategies, the TTL map, and the new ``[[upstream]]`` keys."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.config import ConfigError
from gateway.proxy.breaker import CircuitBreaker
from gateway.proxy.pool_maps import TtlMap
from gateway.proxy.strategy import RoundRobin, SmoothWeighted, failover
from gateway.proxy.tps import TokenBucket
from tests.stack import BASE, make_config

# --- circuit breaker ------------------------------------------------------------------------------


def test_breaker_opens_after_consecutive_failures_and_probes_once() -> None:
    breaker = CircuitBreaker(failures=3, cooldown=5.0)
    breaker.failure(0.0)
    breaker.failure(0.0)
    breaker.success()  # not consecutive: starts again
    breaker.failure(1.0)
    breaker.failure(1.0)
    assert breaker.current(1.0) == "closed" and breaker.allow(1.0)
    breaker.failure(1.0)
    assert breaker.current(1.0) == "open" and not breaker.allow(5.9)
    assert breaker.current(6.0) == "half_open"
    assert breaker.available(6.0) and breaker.allow(6.0)  # the probe
    assert not breaker.available(6.0) and not breaker.allow(6.1)  # one at a time
    breaker.failure(6.5)  # the probe failed: open for another cooldown
    assert breaker.current(11.4) == "open" and breaker.current(11.5) == "half_open"
    assert breaker.allow(11.5)
    breaker.success()
    assert breaker.current(11.6) == "closed" and breaker.allow(11.6) and breaker.allow(11.6)


@given(st.lists(st.tuples(st.booleans(), st.floats(0, 3)), max_size=200), st.integers(1, 6))
def test_breaker_never_lets_two_probes_through(events: list[tuple[bool, float]], failures: int) -> None:
    breaker = CircuitBreaker(failures=failures, cooldown=1.0)
    now = 0.0
    consecutive = 0
    for ok, step in events:
        now += step
        if breaker.current(now) == "half_open":
            assert breaker.allow(now)
            assert not breaker.allow(now)
        allowed = breaker.allow(now)
        if breaker.state == "closed":
            assert allowed
        if ok:
            breaker.success()
            consecutive = 0
        else:
            before = breaker.state
            breaker.failure(now)
            consecutive += 1
            if before == "closed" and consecutive >= failures:
                assert breaker.state == "open"
            if before == "closed" and breaker.state == "open":
                consecutive = 0


# --- token bucket ---------------------------------------------------------------------------------


def test_bucket_holds_the_rate_with_a_fake_clock() -> None:
    bucket = TokenBucket(50.0, now=0.0)
    sent = 0
    t = 0.0
    while t < 10.0:  # ask every millisecond for 10 s
        if bucket.take(t):
            sent += 1
        t += 0.001
    # One second's burst at the start, then 50 a second: within 5% of 10 s at max_tps (plus burst).
    assert abs(sent - (50 * 10 + 50)) <= 0.05 * 500


def test_bucket_wait_and_throttle_back_off() -> None:
    bucket = TokenBucket(10.0, now=0.0)
    for _ in range(10):
        assert bucket.take(0.0)
    assert not bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.1)
    bucket.throttled(0.0)
    assert bucket.rate == 5.0
    bucket.throttled(0.0)
    bucket.throttled(0.0)
    bucket.throttled(0.0)
    assert bucket.rate == 1.0  # never below a tenth
    bucket.take(2.0)
    assert bucket.rate == pytest.approx(3.0)  # additive recovery: a tenth of max_tps per second
    bucket.take(20.0)
    assert bucket.rate == 10.0
    bucket.force(20.0)
    assert bucket.tokens < 10.0


# --- strategies -----------------------------------------------------------------------------------


def test_failover_and_round_robin_skip_what_is_down() -> None:
    assert failover([False, True, True]) == 1
    assert failover([False, False]) is None
    turns = RoundRobin()
    picks = [turns.pick([True, False, True]) for _ in range(4)]
    assert picks == [0, 2, 0, 2]
    assert turns.pick([False, False, False]) is None


@given(st.lists(st.integers(1, 20), min_size=1, max_size=6), st.integers(1, 5))
def test_smooth_weighted_is_exact_over_each_cycle(weights: list[int], cycles: int) -> None:
    turns = SmoothWeighted(weights)
    total = sum(weights)
    picks = Counter(turns.pick([True] * len(weights)) for _ in range(total * cycles))
    assert [picks[i] for i in range(len(weights))] == [w * cycles for w in weights]


def test_smooth_weighted_interleaves_and_skips_down() -> None:
    turns = SmoothWeighted([5, 1, 1])
    assert [turns.pick([True] * 3) for _ in range(7)] == [0, 0, 1, 0, 2, 0, 0]
    turns = SmoothWeighted([3, 1])
    assert {turns.pick([False, True]) for _ in range(5)} == {1}
    assert turns.pick([False, False]) is None


# --- ttl map --------------------------------------------------------------------------------------


def test_ttl_map_forgets_old_and_oldest() -> None:
    ids = TtlMap(limit=2, ttl=10.0)
    ids.put("a", 1, 0.0)
    ids.put("b", 2, 5.0)
    assert ids.get("a", 10.0) == 1 and ids.get("a", 10.1) is None
    ids.put("c", 3, 6.0)
    ids.put("d", 4, 6.0)  # over the limit: b goes
    assert ids.get("b", 6.0) is None and ids.get("d", 6.0) == 4 and len(ids) == 2


# --- configuration --------------------------------------------------------------------------------


def test_upstream_pool_keys(tmp_path: Path) -> None:
    plain = make_config(tmp_path, 2775).upstreams["sim"]
    assert (plain.binds, plain.bind_mode, plain.max_tps, plain.max_tps_wait) == (1, "transceiver", None, 1.0)
    assert (plain.breaker_failures, plain.breaker_cooldown) == (5, 5.0)
    keys = {
        "binds": 4,
        "bind_mode": "transmitter",
        "max_tps": 50,
        "breaker_failures": 2,
        "breaker_cooldown": 1,
    }
    upstream = make_config(tmp_path, 2775, {"upstream": [{**BASE["upstream"][0], **keys}]}).upstreams["sim"]
    assert (upstream.binds, upstream.bind_mode, upstream.max_tps, upstream.breaker_failures) == (
        4,
        "transmitter",
        50.0,
        2,
    )


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("binds", 0, "binds: expected an integer 1-64"),
        ("bind_mode", "both", "bind_mode: expected one of"),
        ("max_tps", 0, "max_tps: expected a positive number"),
        ("breaker_failures", 0, "breaker_failures: expected an integer"),
    ],
)
def test_upstream_pool_key_errors(tmp_path: Path, key: str, value: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, 2775, {"upstream": [{**BASE["upstream"][0], key: value}]})
    assert message in str(info.value)


# --- route lookup of each submitting PDU ----------------------------------------------------------


def test_rule_for_reads_submit_sm_data_sm_and_submit_multi(tmp_path: Path) -> None:
    import time
    from types import SimpleNamespace

    import structlog

    from gateway.proxy.pool_router import PoolRouter
    from gateway.smpp.fields import Dest
    from gateway.smpp.pdu import DataSm, SubmitMulti, SubmitSm

    sim2 = {**BASE["upstream"][0], "name": "sim2"}
    routes = [
        {"name": "uk", "prefixes": ["+44"], "upstreams": ["sim"]},
        {"name": "otp", "service_types": ["OTP"], "upstreams": ["sim2"]},
        {"name": "default", "upstreams": ["sim2"]},
    ]
    config = make_config(tmp_path, 2775, {"upstream": [BASE["upstream"][0], sim2], "route": routes})
    proxy = SimpleNamespace(clock=time.monotonic, log=structlog.get_logger("test"), pdu_counts=None)
    router = PoolRouter(proxy, config)

    def rule(pdu: object) -> str:
        found = router.rule_for("acme", pdu)
        assert found is not None
        return found.name

    assert rule(SubmitSm(destination_addr="447700900401", dest_addr_ton=1)) == "uk"
    assert rule(SubmitSm(destination_addr="07700900401", dest_addr_ton=0)) == "uk"  # national, GB
    assert rule(SubmitSm(destination_addr="+447700900401")) == "uk"
    assert rule(SubmitSm(destination_addr="33612345678", dest_addr_ton=1)) == "default"
    assert rule(SubmitSm(destination_addr="33612345678", dest_addr_ton=1, service_type="OTP")) == "otp"
    assert rule(DataSm(destination_addr="447700900401", dest_addr_ton=1)) == "uk"
    assert rule(SubmitMulti(dests=(Dest(1, 1, 1, "447700900401"), Dest(1, 1, 1, "33612345678")))) == "uk"
    assert rule(SubmitMulti()) == "default"
    # No bind is up yet: nothing to choose.
    uk = router.rule_for("acme", SubmitSm(destination_addr="447700900401", dest_addr_ton=1))
    assert uk is not None and router.choose(uk) is None
