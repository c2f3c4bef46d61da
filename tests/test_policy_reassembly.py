"""Tests for gateway.policy.reassembly: concatenated MO reassembly with time passed in."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.policy.reassembly import Reassembler

K = ("+447700900401", 42)
K2 = ("+447700900402", 42)
K3 = ("+447700900401", 43)


def make(timeout: float = 60.0, max_messages: int = 100, max_parts: int = 255) -> Reassembler:
    return Reassembler(timeout=timeout, max_messages=max_messages, max_parts=max_parts)


def test_in_order() -> None:
    r = make()
    assert r.add(K, 3, 1, "Hello ", now=0.0) is None
    assert r.add(K, 3, 2, "big ", now=0.1) is None
    assert len(r) == 1
    assert r.add(K, 3, 3, "world", now=0.2) == "Hello big world"
    assert len(r) == 0
    assert r.next_deadline() is None


def test_out_of_order() -> None:
    r = make()
    assert r.add(K, 3, 3, "C", now=0.0) is None
    assert r.add(K, 3, 1, "A", now=0.0) is None
    assert r.add(K, 3, 2, "B", now=0.0) == "ABC"


def test_duplicates_ignored() -> None:
    r = make()
    assert r.add(K, 2, 1, "A", now=0.0) is None
    assert r.add(K, 2, 1, "A", now=0.1) is None
    assert r.add(K, 2, 1, "X", now=0.2) is None  # first copy wins
    assert len(r) == 1
    assert r.add(K, 2, 2, "B", now=0.3) == "AB"


def test_keys_are_independent() -> None:
    r = make()
    assert r.add(K, 2, 1, "a1", now=0.0) is None
    assert r.add(K2, 2, 1, "b1", now=0.0) is None
    assert r.add(K3, 2, 2, "c2", now=0.0) is None
    assert len(r) == 3
    assert r.add(K2, 2, 2, "b2", now=0.0) == "b1b2"
    assert r.add(K, 2, 2, "a2", now=0.0) == "a1a2"
    assert len(r) == 1


def test_single_part_returned_immediately() -> None:
    r = make()
    assert r.add(K, 1, 1, "STOP", now=0.0) == "STOP"
    assert len(r) == 0


@pytest.mark.parametrize(("total", "seq"), [(3, 0), (3, 4), (3, -1), (0, 0), (0, 1), (256, 1)])
def test_invalid_parts_ignored(total: int, seq: int) -> None:
    r = make()
    assert r.add(K, total, seq, "x", now=0.0) is None
    assert len(r) == 0


def test_max_parts() -> None:
    r = make(max_parts=4)
    assert r.add(K, 5, 1, "x", now=0.0) is None
    assert len(r) == 0
    assert r.add(K, 4, 1, "x", now=0.0) is None
    assert len(r) == 1


def test_timeout_and_deadline() -> None:
    r = make(timeout=10.0)
    assert r.next_deadline() is None
    r.add(K, 3, 1, "STOP ", now=100.0)
    r.add(K2, 2, 2, "tail", now=105.0)
    r.add(K, 3, 3, " now", now=108.0)  # later parts do not extend the deadline
    assert r.next_deadline() == 110.0
    assert r.expire(109.999) == []
    assert r.expire(110.0) == [(K, "STOP  now")]
    assert len(r) == 1
    assert r.next_deadline() == 115.0
    assert r.expire(200.0) == [(K2, "tail")]
    assert r.expire(300.0) == []
    assert r.next_deadline() is None
    # After expiry the key starts afresh.
    assert r.add(K, 3, 2, "x", now=301.0) is None
    assert len(r) == 1


def test_expire_at_float_deadline() -> None:
    r = make(timeout=0.2)
    r.add(K, 2, 1, "a", now=0.1)
    deadline = r.next_deadline()
    assert deadline is not None
    assert r.expire(deadline) == [(K, "a")]


def test_partial_text_in_part_order() -> None:
    r = make(timeout=1.0)
    r.add(K, 4, 3, "three ", now=0.0)
    r.add(K, 4, 1, "one ", now=0.0)
    assert r.expire(5.0) == [(K, "one three ")]


def test_eviction_bound() -> None:
    r = make(max_messages=2)
    r.add(K, 2, 1, "first", now=0.0)
    r.add(K2, 2, 1, "second", now=1.0)
    assert r.take_evicted() == []
    r.add(K3, 2, 1, "third", now=2.0)
    assert len(r) == 2
    assert r.take_evicted() == [(K, "first", 1, 2)]
    assert r.take_evicted() == []
    # The evicted message can no longer complete; its last part starts a new entry.
    assert r.add(K, 2, 2, "late", now=3.0) is None
    assert r.take_evicted() == [(K2, "second", 1, 2)]
    assert r.add(K3, 2, 2, "!", now=3.0) == "third!"
    assert r.next_deadline() == 3.0 + 60.0


def test_many_messages_stay_bounded() -> None:
    r = make(max_messages=50)
    for i in range(1000):
        r.add(("+1", i), 2, 1, str(i), now=float(i))
        assert len(r) <= 50
    assert len(r.take_evicted()) == 50  # the evicted list is bounded too


def test_reused_reference_with_other_total_restarts() -> None:
    r = make()
    r.add(K, 3, 1, "old", now=0.0)
    assert r.add(K, 2, 1, "new1", now=1.0) is None
    assert r.take_evicted() == [(K, "old", 1, 3)]
    assert r.add(K, 2, 2, "new2", now=1.0) == "new1new2"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"timeout": 0, "max_messages": 1},
        {"timeout": -1.0, "max_messages": 1},
        {"timeout": float("nan"), "max_messages": 1},
        {"timeout": 1.0, "max_messages": 0},
        {"timeout": 1.0, "max_messages": 1, "max_parts": 0},
        {"timeout": 1.0, "max_messages": 1, "max_parts": 256},
    ],
)
def test_constructor_validation(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Reassembler(**kwargs)  # type: ignore[arg-type]


@st.composite
def shuffled_parts(draw: st.DrawFn) -> tuple[list[str], list[int]]:
    """Texts of a 2..12 part message, and an arrival order: every part in any order, with
    duplicates of parts other than the one that arrives last (so it completes exactly there)."""
    texts = draw(st.lists(st.text(max_size=5), min_size=2, max_size=12))
    order = draw(st.permutations(range(1, len(texts) + 1)))
    dupes = draw(st.lists(st.sampled_from(order[:-1]), max_size=5))
    early = draw(st.permutations(list(order[:-1]) + dupes))
    return texts, [*early, order[-1]]


@settings(max_examples=200)
@given(shuffled_parts())
def test_property_any_permutation_completes_exactly_once(
    case: tuple[list[str], list[int]],
) -> None:
    texts, sequence = case
    r = make()
    results = [r.add(K, len(texts), seq, texts[seq - 1], now=float(i)) for i, seq in enumerate(sequence)]
    assert results[:-1] == [None] * (len(results) - 1)
    assert results[-1] == "".join(texts)
    assert len(r) == 0
    assert r.expire(1e9) == []


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(-1, 5), st.integers(-1, 5)), max_size=40))
def test_property_random_traffic_stays_bounded(ops: list[tuple[int, int, int]]) -> None:
    """Arbitrary (key, total, seq) traffic never raises, keeps within max_messages, and after
    expire(now) nothing pending is past its deadline."""
    r = make(timeout=5.0, max_messages=2, max_parts=4)
    for i, (k, total, seq) in enumerate(ops):
        now = float(i)
        result = r.add(("src", k), total, seq, str(seq), now=now)
        assert result is None or isinstance(result, str)
        assert len(r) <= 2
        for _, partial in r.expire(now):
            assert isinstance(partial, str)
        deadline = r.next_deadline()
        assert deadline is None or deadline > now
    assert len(r.take_evicted()) <= 2
    r.expire(float("inf"))
    assert len(r) == 0
    assert r.next_deadline() is None


def test_reconfigure_keeps_pending_parts_under_new_limits() -> None:
    r = make(timeout=60.0, max_messages=3)
    r.add(K, 2, 1, "first", now=0.0)
    r.add(K2, 2, 1, "second", now=1.0)
    r.add(K3, 2, 1, "third", now=2.0)
    r.reconfigure(timeout=10.0, max_messages=2)
    assert r.next_deadline() == 1.0 + 10.0  # the oldest made way; deadlines follow the new timeout
    assert r.take_evicted() == [(K, "first", 1, 2)]
    assert r.add(K3, 2, 2, "!", now=3.0) == "third!"
    assert r.expire(11.0) == [(K2, "second")]
    with pytest.raises(ValueError):
        r.reconfigure(timeout=0.0, max_messages=2)
