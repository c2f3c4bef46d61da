"""Footers and confirmations sent (issue 15), in every store backend: the same semantics on SQLite,
PostgreSQL and in memory, and the confirmation claim atomic across two store clients."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import anyio
import pytest

from gateway.store import Store
from gateway.store.postgres import PostgresStore
from tests.pgdb import fresh_database
from tests.stores import store

pytestmark = pytest.mark.anyio
__all__ = ["store"]  # the fixture, imported for pytest

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
A = "+447700900501"
B = "+447700900502"


async def test_footers_keep_the_latest_time_and_are_read_oldest_first(store: Store) -> None:
    await store.record_footers([("acme", A, T0), ("acme", B, T0 + timedelta(hours=1))])
    # An older time never replaces a newer one (a late batch from a slower process).
    await store.record_footers([("acme", A, T0 + timedelta(hours=2)), ("acme", B, T0)])
    assert await store.footers_since(T0) == [
        ("acme", B, T0 + timedelta(hours=1)),
        ("acme", A, T0 + timedelta(hours=2)),
    ]
    assert await store.footers_since(T0 + timedelta(hours=2)) == [("acme", A, T0 + timedelta(hours=2))]
    assert await store.footers_since(T0, limit=1) == [("acme", B, T0 + timedelta(hours=1))]
    await store.record_footers([("other", A, T0)])  # scopes are apart
    assert len(await store.footers_since(T0)) == 3
    assert await store.purge_footers(T0 + timedelta(hours=1)) == 1
    assert [row[:2] for row in await store.footers_since(T0)] == [("acme", B), ("acme", A)]


async def test_a_confirmation_is_claimed_once_per_window(store: Store) -> None:
    assert await store.claim_confirmation("acme", A, "stop", T0, 60)
    assert not await store.claim_confirmation("acme", A, "stop", T0 + timedelta(seconds=59), 60)
    # Another kind, number or scope is another reply.
    assert await store.claim_confirmation("acme", A, "help", T0, 60)
    assert await store.claim_confirmation("acme", B, "stop", T0, 60)
    assert await store.claim_confirmation("other", A, "stop", T0, 60)
    # Past the window, claimed again (and the window runs from the new claim).
    assert await store.claim_confirmation("acme", A, "stop", T0 + timedelta(seconds=60), 60)
    assert not await store.claim_confirmation("acme", A, "stop", T0 + timedelta(seconds=100), 60)


async def test_a_released_claim_lets_the_next_keyword_be_answered(store: Store) -> None:
    assert await store.claim_confirmation("acme", A, "stop", T0, 60)
    await store.release_confirmation("acme", A, "stop", T0 + timedelta(seconds=1))  # not ours: kept
    assert not await store.claim_confirmation("acme", A, "stop", T0 + timedelta(seconds=2), 60)
    await store.release_confirmation("acme", A, "stop", T0)
    assert await store.claim_confirmation("acme", A, "stop", T0 + timedelta(seconds=3), 60)
    assert await store.purge_confirmations(T0 + timedelta(seconds=4)) == 1
    assert await store.claim_confirmation("acme", A, "stop", T0 + timedelta(seconds=5), 60)


async def test_two_clients_of_one_postgresql_database_claim_a_reply_once() -> None:
    with fresh_database() as url:
        async with PostgresStore(url) as first, PostgresStore(url) as second:
            wins: list[bool] = []

            async def claim(store: Store, number: str) -> None:
                wins.append(await store.claim_confirmation("acme", number, "stop", T0, 60))

            for i in range(20):  # both at once, per number: exactly one wins each time
                number = f"+4477009006{i:02d}"
                async with anyio.create_task_group() as tg:
                    tg.start_soon(claim, first, number)
                    tg.start_soon(claim, second, number)
            assert wins.count(True) == 20 and wins.count(False) == 20
            # And the footer one client records, the other reads.
            await first.record_footers([("acme", A, T0)])
            assert await second.footers_since(T0) == [("acme", A, T0)]
