"""Time to honour on the console (issue 17): MO arrival (``received_at``) to commit (``ts``) of SMS
opt-outs, read from an index and ranked in SQL on SQLite and PostgreSQL (checked against the in-memory
store's scan), shown on the overview as p50 / p99 against the legal limit."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from gateway.ops.admin import AdminServer
from gateway.ops.console.overview import duration, within_limit
from gateway.store import (
    Channel,
    Event,
    EventType,
    HonourTimes,
    MemoryStore,
    SQLiteStore,
    Store,
)
from gateway.store.postgres import PostgresStore
from tests.pgdb import pg_url
from tests.stack import make_config
from tests.test_console import TOKENS
from tools.console_client import admin_context, sign_in

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest

NOW = datetime.now(UTC).replace(microsecond=0)
#: (hours ago, seconds from arrival to commit, scope) of each SMS opt-out written, newest first.
STOPS = [(0, 0.010, "acme"), (1, 0.020, "acme"), (25, 0.030, "beta"), (50, 5.0, "acme"), (960, 900.0, "acme")]


def test_honour_times_take_nearest_rank_percentiles() -> None:
    assert HonourTimes.of([]) is None
    delays = [i / 100 for i in range(1, 101)]  # 0.01 .. 1.00
    assert HonourTimes.of(delays) == HonourTimes(count=100, p50=0.50, p99=0.99, slowest=1.0)
    assert HonourTimes.of([12.0]) == HonourTimes(1, 12.0, 12.0, 12.0)
    assert HonourTimes.of([3.0, 1.0, 2.0]) == HonourTimes(3, 2.0, 3.0, 3.0)  # ceil(0.99 * 3) = 3rd
    assert HonourTimes.of([-0.001, 0.002]) == HonourTimes(2, 0.0, 0.002, 0.002)  # clock skew is not negative
    assert within_limit(HonourTimes(1, 12.0, 12.0, 12.0))
    assert not within_limit(HonourTimes(2, 1.0, 1.0, 11 * 86_400.0))
    assert [duration(s) for s in (0.00042, 0.0123, 3.44, 300, 9000, 3 * 86_400)] == [
        "0.4 ms",
        "12 ms",
        "3.4 s",
        "5.0 min",
        "2.5 h",
        "3.0 days",
    ]


async def _fill(store: Store) -> None:
    for i, (hours_ago, delay, scope) in enumerate(STOPS):
        ts = NOW - timedelta(hours=hours_ago)
        event = Event(
            type=EventType.OPT_OUT,
            number=f"+4477009004{i:02d}",
            scope=scope,
            channel=Channel.SMS,
            keyword="STOP",
            received_at=ts - timedelta(seconds=delay),
            ts=ts,
        )
        await store.opt_out(event)
    # Opt-outs with no MO behind them (an operator's, an import) have no arrival time: not counted.
    await store.opt_out(_event(EventType.ADMIN_ADD, "+447700900499", "acme", Channel.API))
    await store.append_events([_event(EventType.HELP, "+447700900498", "acme", Channel.SMS, received_at=NOW)])


def _event(type_: EventType, number: str, scope: str, channel: Channel, **kw: object) -> Event:
    return Event(type=type_, number=number, scope=scope, channel=channel, **kw)  # type: ignore[arg-type]


async def _times(store: Store) -> dict[str, HonourTimes | None]:
    week = (NOW - timedelta(days=6)).date()
    return {
        "week": await store.honour_times(week),
        "week_acme": await store.honour_times(week, "acme"),
        "two_newest": await store.honour_times(week, limit=2),
        "all": await store.honour_times((NOW - timedelta(days=90)).date()),
        "none": await store.honour_times(week, "nobody"),
    }


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    made: Store
    if request.param == "sqlite":
        made = SQLiteStore(tmp_path / "h.db")
    else:
        made = PostgresStore(request.getfixturevalue("pg_url"))
    await made.open()
    try:
        yield made
    finally:
        await made.close()


async def test_stores_rank_the_newest_delays_as_a_scan_of_the_log_does(store: Store) -> None:
    memory = MemoryStore()
    await memory.open()
    await _fill(memory)
    await _fill(store)
    kept = await _times(store)
    assert kept == await _times(memory)
    figures = {k: None if t is None else (t.count, t.p50, t.p99, t.slowest) for k, t in kept.items()}
    assert figures == {
        "week": (4, 0.020, 5.0, 5.0),
        "week_acme": (3, 0.020, 5.0, 5.0),
        "two_newest": (2, 0.010, 0.020, 0.020),
        "all": (5, 0.030, 900.0, 900.0),
        "none": None,
    }
    # The arrival time reads back as written (UTC, to the microsecond); None where there was no MO.
    written = await memory.events()
    read = await store.events()
    assert [(e.type, e.received_at) for e in read] == [(e.type, e.received_at) for e in written]
    assert [e.received_at is None for e in written] == [False] * 5 + [True, False]


async def test_the_overview_shows_p50_and_p99_against_the_legal_limit(tmp_path: Path) -> None:
    store = MemoryStore()
    await store.open()
    config = make_config(tmp_path, 2775, TOKENS)
    context = admin_context(store, config)
    server = AdminServer(context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://a") as c:
        await _sign_in(c)
        empty = await c.get("/ui/?days=30")
        assert "No SMS opt-outs with a recorded arrival time" in empty.text
        await _fill(store)
        page = (await c.get("/ui/?days=30")).text
        tiles = dict(re.findall(r"<div><dt>([^<]+)</dt><dd>([^<]+)</dd></div>", _section(page)))
        # Four SMS opt-outs in 30 days: 10 ms, 20 ms, 30 ms, 5 s (the 40-day-old one is outside).
        assert tiles == {"p50": "20 ms", "p99": "5.0 s", "Slowest": "5.0 s", "SMS opt-outs measured": "4"}
        assert "10 business days (FCC, 47 CFR 64.1200)" in page
        assert "All within the legal limit" in page
        year = _section((await c.get("/ui/?days=365")).text)
        assert "<dd>15.0 min</dd>" in year  # the slowest, 40 days ago
        acme = _section((await c.get("/ui/?days=30&scope=acme")).text)
        assert "<dt>SMS opt-outs measured</dt><dd>3</dd>" in acme  # not beta's


def _section(page: str) -> str:
    start = page.index('<section aria-labelledby="honour">')
    return page[start : page.index("</section>", start)]


async def _sign_in(client: httpx.AsyncClient, token: str = "alice-token") -> None:
    await sign_in(client, token)
