"""SuppressionIndex: the in-memory hot-path check, and its link to the store's change feed."""

from __future__ import annotations

import random
import time
import tracemalloc
from collections.abc import AsyncIterator

import anyio
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from gateway.store.feed import ChangeFollower
from gateway.store.index import IndexBuilder, SuppressionIndex, build_index
from gateway.store.memory import MemoryStore
from gateway.store.model import Change, Channel, Event, EventType


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_add_contains_remove() -> None:
    index = SuppressionIndex()
    assert not index.contains("acme", "+447700900401")
    assert index.add("acme", "+447700900401") is True
    assert index.add("acme", "+447700900401") is False
    assert index.contains("acme", "+447700900401")
    assert ("acme", "+447700900401") in index
    assert not index.contains("beta", "+447700900401")  # scopes are separate lists
    assert not index.contains("acme", "+447700900402")
    assert not index.contains("nobody", "+447700900401")
    assert len(index) == 1
    assert index.remove("acme", "+447700900401") is True
    assert index.remove("acme", "+447700900401") is False
    assert not index.contains("acme", "+447700900401")
    assert index.remove("nobody", "+1") is False
    assert len(index) == 0


@pytest.mark.parametrize(
    "number",
    ["+0447700900401", "447700900401", "+44 7700 900401", "+4_4", "+٤٤٧٧", "+1234567890123456", "", "+"],
)
def test_numbers_that_are_not_e164_are_kept_verbatim(number: str) -> None:
    index = SuppressionIndex()
    index.add("acme", "+447700900401")
    assert index.add("acme", number) is True
    assert index.contains("acme", number)
    assert not index.contains("beta", number)
    assert index.contains("acme", "+447700900401")
    index.compact()
    assert len(index) == 2
    assert index.remove("acme", number) is True
    assert not index.contains("acme", number)
    assert index.contains("acme", "+447700900401")


def test_removal_and_re_add_of_base_keys_survive_compaction() -> None:
    index = SuppressionIndex()
    numbers = [f"+4477009{n:05d}" for n in range(100)]
    index.bulk_load(("acme", n) for n in numbers)
    assert index.remove("acme", numbers[0]) and index.remove("acme", numbers[50])
    assert index.add("acme", numbers[50]) is True  # undoes the pending removal
    assert index.add("acme", "+1") and index.add("acme", "+99999999999999")
    assert index.add("zeta", numbers[0])
    index.compact()
    assert index._added == set() and index._removed == set()
    assert not index.contains("acme", numbers[0])
    assert all(index.contains("acme", n) for n in numbers[1:])
    assert index.contains("acme", "+1") and index.contains("acme", "+99999999999999")
    assert index.contains("zeta", numbers[0])
    assert len(index) == 99 + 3
    assert list(index._base) == sorted(index._base)


def test_automatic_compaction_keeps_pending_sets_small() -> None:
    index = SuppressionIndex(compact_threshold=16)
    for n in range(1000):
        index.add("acme", f"+1555{n:07d}")
    assert len(index._added) <= 16
    for n in range(0, 1000, 2):
        index.remove("acme", f"+1555{n:07d}")
    assert len(index._added) + len(index._removed) <= 16
    assert len(index) == 500
    assert [index.contains("acme", f"+1555{n:07d}") for n in range(6)] == [False, True] * 3


def test_bulk_load_handles_any_order_duplicates_and_merges() -> None:
    rng = random.Random(7)
    pairs = [
        (rng.choice("abc"), f"+{rng.choice(['1', '44', '353'])}{rng.randrange(10 ** rng.randint(1, 11))}")
        for _ in range(3000)
    ]
    pairs += [*pairs[:500], ("a", "+0bad"), ("a", "+0bad")]
    rng.shuffle(pairs)
    index = SuppressionIndex()
    index.bulk_load(pairs[:2000])
    index.add("z", "+15551234567")
    index.remove(*pairs[0])
    index.bulk_load(pairs[2000:])  # merges into a non-empty index
    expected = set(pairs[2000:]) | (set(pairs[:2000]) - {pairs[0]}) | {("z", "+15551234567")}
    assert len(index) == len(expected)
    assert all(index.contains(s, n) for s, n in expected)
    assert list(index._base) == sorted(set(index._base))


@pytest.mark.parametrize(
    "chunks",
    [
        [["+447700900401", "+447700900402"], ["+447700900403"]],  # in order: no sort needed
        [["+447700900403", "+447700900404"], ["+447700900401", "+447700900402"]],  # chunks swapped
        [["+447700900402", "+447700900401"], ["+447700900403"]],  # a chunk out of order inside
        [["+447700900401", "+447700900402"], ["+447700900402", "+447700900403"]],  # overlapping
        [["+447700900402"], ["+447700900401", "+15550000001"], ["+447700900403"]],  # mixed lengths between
        [["+447700900403"], ["+447700900401", "+4477009004x"], ["+447700900404"]],  # row by row between
    ],
)
def test_feed_numbers_in_any_chunk_order_gives_a_sorted_base(chunks: list[list[str]]) -> None:
    index = SuppressionIndex()
    builder = IndexBuilder(index)
    for chunk in chunks:
        builder.feed_numbers("acme", chunk)
    builder.finish()
    expected = {n for chunk in chunks for n in chunk}
    assert len(index) == len(expected)
    for number in [*sorted(expected), "+447700900400", "+447700900405"]:
        assert index.contains("acme", number) == (number in expected)


@pytest.mark.parametrize(
    "numbers",
    [
        ["+447700900401", "+447700900402", "+447700900403"],  # one length: fully C-level
        ["+1", "+15550000001", "+447700900401", "+999999999999999"],  # mixed lengths
        ["+447700900401", "+0447700900401"],  # leading zero collides numerically
        ["+447700900401", " +44770090040"],  # whitespace int() would accept
        ["+447700900401", "+4_47700900401"],  # underscore int() would accept
        ["+447700900401", "+٤٤٧٧٠٠٩٠٠٤٠١"],  # non-ASCII digits int() would accept
        ["+447700900401", "447700900401+"],  # misplaced plus
        ["+447700900401", "+1234567890123456"],  # too long for E.164
        ["+447700900401", "-44770090040"],  # a sign, but not a plus
    ],
)
def test_feed_numbers_fast_path_agrees_with_row_by_row(numbers: list[str]) -> None:
    fast = SuppressionIndex()
    builder = IndexBuilder(fast)
    builder.feed_numbers("acme", numbers)
    builder.feed_numbers("beta", numbers[:1])
    builder.finish()
    slow = SuppressionIndex()
    slow.bulk_load([("acme", n) for n in numbers] + [("beta", numbers[0])])
    assert len(fast) == len(slow) == len(numbers) + 1
    for number in [*numbers, "+447700900401", "+447700900404", "+44770090040"]:
        for scope in ("acme", "beta"):
            assert fast.contains(scope, number) == slow.contains(scope, number)
            assert fast.contains(scope, number) == (
                number in numbers if scope == "acme" else number == numbers[0]
            )


def test_apply_changes_tracks_the_feed_position() -> None:
    index = SuppressionIndex()
    index.apply(
        [
            Change(3, "acme", "+15550000001", True),
            Change(4, "acme", "+15550000002", True),
            Change(9, "acme", "+15550000001", False),
            Change(10, "acme", "+15550000001", False),  # idempotent replay
        ]
    )
    assert index.change_id == 10
    assert not index.contains("acme", "+15550000001")
    assert index.contains("acme", "+15550000002")


SCOPES = st.sampled_from(["a", "b", "c"])
NUMBER_POOL = ["+1", "+15550000001", "+15550000002", "+447700900401", "+999999999999999", "+0123", "x"]
NUMBERS = st.sampled_from(NUMBER_POOL)
#: What contains_e164 is given: normalize_number's E.164 (and, defensively, one digit too long).
E164_POOL = ["+1", "+15550000001", "+15550000002", "+447700900401", "+999999999999999", "+1000000000000000"]


class IndexModel(RuleBasedStateMachine):
    """Random add/remove/bulk_load/compact sequences against a plain Python set."""

    def __init__(self) -> None:
        super().__init__()
        self.index = SuppressionIndex(compact_threshold=3)
        self.model: set[tuple[str, str]] = set()

    @rule(scope=SCOPES, number=NUMBERS)
    def add(self, scope: str, number: str) -> None:
        assert self.index.add(scope, number) == ((scope, number) not in self.model)
        self.model.add((scope, number))

    @rule(scope=SCOPES, number=NUMBERS)
    def remove(self, scope: str, number: str) -> None:
        assert self.index.remove(scope, number) == ((scope, number) in self.model)
        self.model.discard((scope, number))

    @rule(pairs=st.lists(st.tuples(SCOPES, NUMBERS), max_size=8))
    def bulk_load(self, pairs: list[tuple[str, str]]) -> None:
        self.index.bulk_load(pairs)
        self.model.update(pairs)

    @precondition(lambda self: bool(self.model))
    @rule()
    def compact(self) -> None:
        self.index.compact()

    @rule(scope=SCOPES, number=st.sampled_from(E164_POOL))
    def add_e164(self, scope: str, number: str) -> None:
        self.add(scope, number)

    @invariant()
    def same_membership(self) -> None:
        for scope in ("a", "b", "c", "d"):
            for number in NUMBER_POOL:
                assert self.index.contains(scope, number) == ((scope, number) in self.model)
            for number in E164_POOL:
                assert self.index.contains_e164(scope, number) == ((scope, number) in self.model)
        assert len(self.index) == len(self.model)


IndexModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestIndexModel = IndexModel.TestCase


class CollidingFilterModel(IndexModel):
    """The same with a filter of 3 bytes: lookups of numbers not in the base keep hitting bytes set
    by others (and by removed keys), so the bisect behind the filter decides."""

    def __init__(self) -> None:
        super().__init__()
        self.index = SuppressionIndex(compact_threshold=3, filter_size=3)


CollidingFilterModel.TestCase.settings = settings(max_examples=60, stateful_step_count=30, deadline=None)
TestCollidingFilterModel = CollidingFilterModel.TestCase


def test_filter_answers_for_numbers_not_in_the_base_and_grows_with_it() -> None:
    index = SuppressionIndex(compact_threshold=1)
    index.bulk_load([("acme", f"+4477009{k:05d}") for k in range(0, 60_000, 3)])
    size = len(index._filter)
    assert size >= 4 * 20_000
    set_bytes = sum(index._filter)
    assert set_bytes == 20_000  # decimal steps spread without collisions
    assert all(index.contains_e164("acme", f"+4477009{k:05d}") for k in range(0, 60_000, 3))
    assert not any(index.contains_e164("acme", f"+4477009{k:05d}") for k in range(1, 60_000, 3))
    # removed keys leave their byte set; the bisect still answers
    index.remove("acme", "+447700900000")
    index.compact()
    assert index._filter[447700900000 % size] == 1
    assert not index.contains_e164("acme", "+447700900000")
    # a base more than twice what the filter was built for gets a new one
    index.bulk_load([("beta", f"+1555{k:07d}") for k in range(50_000)])
    assert len(index._filter) > size
    assert index.contains_e164("beta", "+15550049999") and index.contains_e164("acme", "+447700900003")


def sorted_pairs(n: int) -> list[tuple[str, str]]:
    """``n`` distinct pairs in (scope, number) order, as Store.load_suppressions yields them."""
    per_half = n // 6
    pairs: list[tuple[str, str]] = []
    for scope in ("acme", "beta", "gamma"):
        pairs += [(scope, f"+1{2000000000 + i * 13}") for i in range(per_half)]  # 11 digits
        pairs += [(scope, f"+4477{i * 97:08d}") for i in range(per_half)]  # 12 digits
    return pairs


def test_one_million_numbers_bulk_load() -> None:
    pairs = sorted_pairs(1_000_002)
    started = time.perf_counter()
    index = SuppressionIndex()
    index.bulk_load(pairs)
    elapsed = time.perf_counter() - started
    per_number = index.memory_usage() / len(index)

    # Cross-check what is really retained with tracemalloc (slow, so on a tenth of the data).
    sample = sorted_pairs(100_002)
    tracemalloc.start()
    try:
        small = SuppressionIndex()
        small.bulk_load(sample)
        traced_per_number = tracemalloc.get_traced_memory()[0] / len(small)
    finally:
        tracemalloc.stop()
    print(
        f"\n1M bulk_load: {elapsed:.2f} s, {per_number:.1f} bytes/number "
        f"(tracemalloc on 100k: {traced_per_number:.1f} bytes/number)"
    )
    assert len(index) == len(pairs)
    assert per_number < 13 and traced_per_number < 13  # an 8-byte key and 4 filter bytes each
    assert elapsed < 5
    rng = random.Random(1)
    for scope, number in rng.sample(pairs, 1000):
        assert index.contains(scope, number)
        assert not index.contains(scope, number + "1")
    assert not index.contains("acme", "+15550000000")
    assert not index.contains("delta", pairs[0][1])


# -- index and store together ------------------------------------------------------------------


def opt_out(number: str, scope: str = "acme") -> Event:
    return Event(type=EventType.OPT_OUT, number=number, scope=scope, channel=Channel.SMS)


def opt_in(number: str, scope: str = "acme") -> Event:
    return Event(type=EventType.OPT_IN, number=number, scope=scope, channel=Channel.SMS)


async def wait_for(predicate: object, timeout: float = 2.0) -> None:
    assert callable(predicate)
    with anyio.fail_after(timeout):
        while not predicate():
            await anyio.sleep(0.005)


@pytest.mark.anyio
async def test_build_index_then_follow_changes() -> None:
    health: list[bool] = []
    async with MemoryStore() as store:
        await store.import_suppressions(
            [("acme", f"+4477009{n:05d}") for n in range(250)], channel=Channel.IMPORT, reason=None
        )
        index, last = await build_index(store, batch=100)
        assert len(index) == 250 and last == 250 == index.change_id
        async with anyio.create_task_group() as tg:
            follower = ChangeFollower(
                store, index, after_id=last, interval=0.01, batch=2, on_health=health.append
            )
            tg.start_soon(follower.run)
            await store.opt_out(opt_out("+15550000001"))
            await store.opt_in(opt_in("+447700900000"))
            await wait_for(lambda: index.contains("acme", "+15550000001"))
            await wait_for(lambda: not index.contains("acme", "+447700900000"))
            # A failing store is reported and retried; the index keeps its state meanwhile.
            await store.close()
            await wait_for(lambda: False in health)
            assert index.contains("acme", "+15550000001")
            await store.open()
            await store.import_suppressions(
                [("beta", f"+1555000{n:04d}") for n in range(7)], channel=Channel.CLI, reason=None
            )
            await wait_for(lambda: len(index) == 250 + 7)
            tg.cancel_scope.cancel()
    assert index.change_id == 259


class ChangeDuringLoad(MemoryStore):
    """A store in which an opt-out and an opt-in land while the index is being loaded."""

    async def load_suppressions(self, batch: int = 100_000) -> AsyncIterator[list[tuple[str, str]]]:
        first = True
        async for page in super().load_suppressions(batch):
            yield page
            if first:
                first = False
                await self.opt_out(opt_out("+15550000009"))
                await self.opt_in(opt_in("+15550000001"))


@pytest.mark.anyio
async def test_build_index_misses_no_change_made_during_the_load() -> None:
    async with ChangeDuringLoad() as store:
        for n in range(1, 5):
            await store.opt_out(opt_out(f"+1555000000{n}"))
        index, last = await build_index(store, batch=2)
        assert last == 4
        index.apply(await store.changes_since(last))
        expected = {(s.scope, s.number) for s in await store.list_suppressions()}
        assert len(index) == len(expected) == 4
        assert all(index.contains(*pair) for pair in expected)
        assert not index.contains("acme", "+15550000001")
