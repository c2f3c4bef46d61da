"""OptoutChanges: the one way an opt-out or opt-in is committed, applied to the index and counted."""

from __future__ import annotations

import pytest

from gateway.metrics import Metrics
from gateway.optout.changes import OptoutChanges
from gateway.store.memory import MemoryStore
from gateway.store.model import Channel, Event, EventType, StoreError

pytestmark = pytest.mark.anyio

NUMBER = "+447700900401"


class Feed:
    def __init__(self) -> None:
        self.applied: list[tuple[str, str, bool]] = []

    async def apply_local(self, scope: str, number: str, suppressed: bool) -> None:
        self.applied.append((scope, number, suppressed))


def event(kind: EventType, channel: Channel = Channel.API) -> Event:
    return Event(type=kind, number=NUMBER, scope="acme", channel=channel, account="ops", reason="asked")


def count(metrics: Metrics, name: str, channel: str) -> float | None:
    return metrics.registry.get_sample_value(f"stopgate_{name}_total", {"scope": "acme", "channel": channel})


async def open_store() -> MemoryStore:
    store = MemoryStore()
    await store.open()
    return store


async def test_opt_out_commits_applies_and_counts_once() -> None:
    store, feed, metrics = await open_store(), Feed(), Metrics()
    changes = OptoutChanges(store, feed, metrics)
    assert await changes.opt_out(event(EventType.ADMIN_ADD)) is True
    assert await store.get_suppression("acme", NUMBER) is not None
    assert await changes.opt_out(event(EventType.ADMIN_ADD)) is False  # already opted out
    assert feed.applied == [("acme", NUMBER, True)] * 2  # the index is brought up to date either way
    assert count(metrics, "optouts", "api") == 1.0  # counted when new
    assert metrics.registry.get_sample_value("stopgate_store_commit_seconds_count") == 2.0
    assert len(await store.history("acme", NUMBER)) == 2  # both kept in the audit log


async def test_opt_in_lifts_and_counts_by_channel() -> None:
    store, feed, metrics = await open_store(), Feed(), Metrics()
    changes = OptoutChanges(store, feed, metrics)
    assert await changes.opt_in(event(EventType.OPT_IN, Channel.SMS)) is False  # nothing to lift
    await changes.opt_out(event(EventType.OPT_OUT, Channel.SMS))
    assert await changes.opt_in(event(EventType.OPT_IN, Channel.SMS)) is True
    assert await store.get_suppression("acme", NUMBER) is None
    assert feed.applied[-1] == ("acme", NUMBER, False)
    assert count(metrics, "optins", "sms") == 1.0
    assert count(metrics, "optouts", "sms") == 1.0


async def test_a_failed_commit_raises_and_changes_nothing_else() -> None:
    store, feed, metrics = await open_store(), Feed(), Metrics()
    store.fail = True
    changes = OptoutChanges(store, feed, metrics)
    with pytest.raises(StoreError):
        await changes.opt_out(event(EventType.ADMIN_ADD))
    assert feed.applied == []
    assert count(metrics, "optouts", "api") is None


async def test_without_feed_or_metrics_it_only_commits() -> None:
    """As the command line uses it: the running proxy's feed finds the change in the store."""
    store = await open_store()
    changes = OptoutChanges(store)
    assert await changes.opt_out(event(EventType.ADMIN_ADD, Channel.CLI)) is True
    assert await changes.opt_in(event(EventType.ADMIN_REMOVE, Channel.CLI)) is True
    assert [e.type for e in await store.history("acme", NUMBER)] == [
        EventType.ADMIN_ADD,
        EventType.ADMIN_REMOVE,
    ]
