"""Store behaviour, run against every backend (MemoryStore, SQLiteStore, PostgresStore), plus SQLite
specifics (PostgreSQL specifics are in test_store_postgres.py)."""

from __future__ import annotations

import dataclasses
import os
import re
import sqlite3
import stat
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import anyio
import anyio.abc
import anyio.lowlevel
import pytest

from gateway.store import base as store_base
from gateway.store.base import Store
from gateway.store.memory import MemoryStore
from gateway.store.model import (
    Change,
    Channel,
    Event,
    EventType,
    StoreClosedError,
    StoreError,
)
from gateway.store.postgres import PostgresStore
from gateway.store.sqlite import SQLiteStore, split_sql
from gateway.store.sqlite.schema import migrations
from tests.stores import store

pytestmark = pytest.mark.anyio
__all__ = ["store"]  # the fixture, imported for pytest

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
A = "+447700900401"
B = "+447700900402"
C = "+15005550006"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def sqlite_store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "s.db") as s:
        yield s


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(store_base, "PAGE_SIZE", 3)
    yield


async def reopen(store: Store) -> Store:
    """Close ``store`` and open the same data again (a new instance for SQLite)."""
    await store.close()
    if isinstance(store, SQLiteStore):
        store = SQLiteStore(store.path)
    elif isinstance(store, PostgresStore):
        store = PostgresStore(store.url)
    await store.open()
    return store


def ev(
    type_: EventType = EventType.OPT_OUT,
    number: str = A,
    scope: str = "acme",
    channel: Channel = Channel.SMS,
    **kw: object,
) -> Event:
    return Event(type=type_, number=number, scope=scope, channel=channel, **kw)  # type: ignore[arg-type]


def strip_ids(events: list[Event]) -> list[tuple[EventType, str, str]]:
    return [(e.type, e.scope, e.number) for e in events]


# -- state changes ---------------------------------------------------------------------------------


async def test_opt_out_and_in_are_idempotent(store: Store) -> None:
    assert await store.opt_out(ev(keyword="STOP")) is True
    assert await store.opt_out(ev(keyword="STOP")) is False
    sup = await store.get_suppression("acme", A)
    assert sup is not None and sup.keyword == "STOP" and sup.channel == "sms"
    assert await store.get_suppression("other", A) is None

    assert await store.opt_in(ev(EventType.OPT_IN)) is True
    assert await store.opt_in(ev(EventType.OPT_IN)) is False
    assert await store.get_suppression("acme", A) is None

    assert await store.opt_out(ev(EventType.ADMIN_ADD, channel=Channel.API)) is True
    assert await store.opt_in(ev(EventType.ADMIN_REMOVE, channel=Channel.CLI)) is True
    # Every call is in the audit log, only real changes are in the feed.
    assert [e.type for e in await store.history("acme", A)] == [
        EventType.OPT_OUT,
        EventType.OPT_OUT,
        EventType.OPT_IN,
        EventType.OPT_IN,
        EventType.ADMIN_ADD,
        EventType.ADMIN_REMOVE,
    ]
    changes = await store.changes_since(0)
    assert [(c.id, c.suppressed) for c in changes] == [(1, True), (3, False), (5, True), (6, False)]
    assert await store.last_change_id() == 6


async def test_suppression_points_at_its_event(store: Store) -> None:
    await store.opt_out(ev(ts=T0, reason="asked nicely", keyword="STOP"))
    sup = await store.get_suppression("acme", A)
    assert sup is not None
    assert (sup.since, sup.reason, sup.event_id) == (T0, "asked nicely", 1)


async def test_wrong_event_types_are_refused(store: Store) -> None:
    with pytest.raises(ValueError):
        await store.opt_out(ev(EventType.OPT_IN))
    with pytest.raises(ValueError):
        await store.opt_in(ev(EventType.OPT_OUT))
    with pytest.raises(ValueError):
        await store.append_events([ev(EventType.HELP), ev(EventType.OPT_OUT)])
    with pytest.raises(ValueError):
        await store.opt_out(ev(id=7))
    assert await store.events() == []


async def test_event_round_trip(store: Store) -> None:
    plus_two = timezone(timedelta(hours=2))
    original = ev(
        account="esme1",
        keyword="STOP",
        text="stop  please ✋",
        message_ids=("mo-1", "conf-2"),
        reason="r",
        campaign="spring",
        ts=datetime(2024, 5, 1, 14, 0, 0, 999999, tzinfo=plus_two),
    )
    await store.opt_out(original)
    await store.append_events([ev(EventType.HELP, channel=Channel.SMS, ts=T0)])
    first, second = await store.events()
    assert first == dataclasses.replace(original, id=1)
    assert first.ts == datetime(2024, 5, 1, 12, 0, 0, 999999, tzinfo=UTC)
    assert first.ts.tzinfo == UTC
    assert second.id == 2 and second.message_ids == ()


def test_event_type_state_semantics() -> None:
    assert [t for t in EventType if t.suppresses] == [
        EventType.OPT_OUT,
        EventType.ADMIN_ADD,
        EventType.IMPORT,
    ]
    assert [t for t in EventType if t.suppresses is False] == [
        EventType.OPT_IN,
        EventType.ADMIN_REMOVE,
    ]
    assert EventType.BLOCKED.suppresses is None
    assert ev(EventType("help"), channel=Channel("sms")).type is EventType.HELP


def test_sqlite_store_refuses_durability_pragmas(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        SQLiteStore(tmp_path / "x.db", pragmas={"synchronous": "OFF"})
    with pytest.raises(ValueError):
        SQLiteStore(tmp_path / "x.db", pragmas={"cache_size; DROP TABLE events": 1})
    SQLiteStore(tmp_path / "x.db", pragmas={"cache_size": -65536})


def test_naive_timestamps_are_refused() -> None:
    with pytest.raises(ValueError):
        ev(ts=datetime(2024, 1, 1))


async def test_append_events_is_one_batch(store: Store) -> None:
    await store.append_events(
        [ev(EventType.BLOCKED, campaign="c1"), ev(EventType.CONFIRMATION_SENT), ev(EventType.HELP)]
    )
    await store.append_events([])
    assert [e.id for e in await store.events()] == [1, 2, 3]
    assert await store.changes_since(0) == []
    assert await store.last_change_id() == 0


# -- queries ---------------------------------------------------------------------------------------


async def test_event_filters(store: Store, small_pages: None) -> None:
    for i in range(10):
        number = A if i % 2 else B
        scope = "acme" if i < 5 else "beta"
        type_ = EventType.BLOCKED if i % 3 else EventType.HELP
        await store.append_events([ev(type_, number, scope, ts=T0 + timedelta(minutes=i))])
    all_events = await store.events()
    assert [e.id for e in all_events] == list(range(1, 11))
    window = await store.events(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=5))
    assert [e.id for e in window] == [3, 4, 5]  # since inclusive, until exclusive
    assert [e.id for e in await store.events(number=A, scope="beta")] == [6, 8, 10]
    assert [e.id for e in await store.events(types=[EventType.HELP])] == [1, 4, 7, 10]
    assert await store.events(types=[]) == []
    assert [e.id for e in await store.events(after_id=6, limit=2)] == [7, 8]
    assert [e.id for e in await store.events(scope="acme", after_id=2)] == [3, 4, 5]
    streamed = [e.id async for e in store.iter_events(scope="beta")]
    assert streamed == [6, 7, 8, 9, 10]
    capped = [e.id async for e in store.iter_events(types=[EventType.BLOCKED], limit=4)]
    assert capped == [2, 3, 5, 6]
    with pytest.raises(ValueError):
        await store.events(limit=0)


async def _populate(store: Store) -> list[tuple[str, str]]:
    rows = [(scope, f"+4477009{n:05d}") for scope in ("a", "b", "c") for n in range(7)]
    assert await store.import_suppressions(reversed(rows), channel=Channel.CLI, reason="r") == 21
    return rows


async def test_list_suppressions_keyset_pagination(store: Store) -> None:
    rows = await _populate(store)
    seen: list[tuple[str, str]] = []
    after: tuple[str, str] | None = None
    while page := await store.list_suppressions(after=after, limit=4):
        seen.extend((s.scope, s.number) for s in page)
        after = (page[-1].scope, page[-1].number)
    assert seen == sorted(rows)

    only_b = await store.list_suppressions("b", limit=100)
    assert [(s.scope, s.number) for s in only_b] == [r for r in rows if r[0] == "b"]
    page = await store.list_suppressions("b", after=("b", rows[9][1]), limit=2)
    assert [s.number for s in page] == [rows[10][1], rows[11][1]]
    assert await store.list_suppressions("b", after=("c", ""), limit=5) == []
    assert len(await store.list_suppressions("b", after=("a", "+9"), limit=50)) == 7
    with pytest.raises(ValueError):
        await store.list_suppressions(limit=0)


async def test_streaming_suppressions(store: Store, small_pages: None) -> None:
    rows = await _populate(store)
    assert [(s.scope, s.number) async for s in store.iter_suppressions()] == sorted(rows)
    assert [s.number async for s in store.iter_suppressions("c")] == [n for sc, n in rows if sc == "c"]
    batches = [b async for b in store.load_suppressions(batch=5)]
    assert all(0 < len(b) <= 5 for b in batches)
    assert [tuple(p) for b in batches for p in b] == sorted(rows)
    chunks = [c async for c in store.load_numbers(batch=5)]
    assert all(0 < len(numbers) <= 5 for _, numbers in chunks)
    assert [(scope, n) for scope, numbers in chunks for n in numbers] == sorted(rows)
    with pytest.raises(ValueError):
        [c async for c in store.load_numbers(batch=0)]


# -- change feed -----------------------------------------------------------------------------------


async def test_change_feed_order_and_catch_up(store: Store) -> None:
    await store.opt_out(ev(number=A))
    await store.append_events([ev(EventType.HELP, number=B)])
    await store.opt_out(ev(number=B))
    await store.opt_out(ev(number=A))  # no-op: not a change
    await store.opt_in(ev(EventType.OPT_IN, number=A))
    await store.import_suppressions([("acme", C), ("acme", B)], channel=Channel.IMPORT, reason=None)
    expected = [
        Change(1, "acme", A, True),
        Change(3, "acme", B, True),
        Change(5, "acme", A, False),
        Change(6, "acme", C, True),
    ]
    assert await store.changes_since(0) == expected
    assert await store.changes_since(3) == expected[2:]
    assert await store.changes_since(0, limit=2) == expected[:2]
    assert await store.changes_since(6) == []
    assert await store.last_change_id() == 6

    # A consumer that pages through the feed ends with the store's state.
    state: set[tuple[str, str]] = set()
    cursor = 0
    while batch := await store.changes_since(cursor, limit=1):
        for change in batch:
            (state.add if change.suppressed else state.discard)((change.scope, change.number))
        cursor = batch[-1].id
    assert state == {(s.scope, s.number) for s in await store.list_suppressions()}


# -- import ----------------------------------------------------------------------------------------


async def test_import_is_idempotent(store: Store) -> None:
    await store.opt_out(ev(number=A))
    rows = [("acme", A), ("acme", B), ("acme", B), ("beta", A), ("acme", C)]
    n = await store.import_suppressions(iter(rows), channel=Channel.CLI, reason="list", operator="ops")
    assert n == 3
    assert await store.import_suppressions(rows, channel=Channel.CLI, reason="list") == 0
    imports = await store.events(types=[EventType.IMPORT])
    assert strip_ids(imports) == [
        (EventType.IMPORT, "acme", C),
        (EventType.IMPORT, "acme", B),
        (EventType.IMPORT, "beta", A),
    ]
    # Issue 18: who ran the import is its operator, not an account.
    found = {(e.channel, e.reason, e.operator, e.account) for e in imports}
    assert found == {(Channel.CLI, "list", "ops", None)}
    sup = await store.get_suppression("beta", A)
    assert sup is not None and sup.event_id == imports[2].id and sup.channel == "cli"
    assert await store.import_suppressions([], channel=Channel.CLI, reason=None) == 0


async def test_import_is_atomic_when_the_rows_fail(store: Store) -> None:
    def rows() -> Iterator[tuple[str, str]]:
        yield ("acme", A)
        yield ("acme", B)
        raise ValueError("line 3: not a number")

    with pytest.raises(ValueError, match="line 3"):
        await store.import_suppressions(rows(), channel=Channel.CLI, reason=None)
    assert await store.list_suppressions() == []
    assert await store.events() == []
    assert await store.import_suppressions([("acme", A)], channel=Channel.CLI, reason=None) == 1


# -- counters --------------------------------------------------------------------------------------


async def test_sent_counts_accumulate(store: Store) -> None:
    await store.add_sent_counts({("2024-05-01", "acme", "spring"): 10, ("2024-05-02", "acme", ""): 1})
    await store.add_sent_counts({("2024-05-01", "acme", "spring"): 5, ("2024-05-02", "beta", "x"): 2})
    await store.add_sent_counts({})
    assert await store.sent_counts() == [
        ("2024-05-01", "acme", "spring", 15),
        ("2024-05-02", "acme", "", 1),
        ("2024-05-02", "beta", "x", 2),
    ]
    assert await store.sent_counts(since_day="2024-05-02", scope="acme") == [
        ("2024-05-02", "acme", "", 1)
    ]


async def test_last_campaign_keeps_the_newest(store: Store) -> None:
    assert await store.last_campaign("acme", A) is None
    await store.record_last_campaigns([("acme", A, "spring", T0), ("acme", B, "x", T0)])
    await store.record_last_campaigns(
        [("acme", A, "summer", T0 + timedelta(days=1)), ("acme", B, "older", T0 - timedelta(1))]
    )
    await store.record_last_campaigns([])
    assert await store.last_campaign("acme", A) == "summer"
    assert await store.last_campaign("acme", B) == "x"
    assert await store.last_campaign("beta", A) is None


# -- lifecycle -------------------------------------------------------------------------------------


async def test_state_survives_close_and_reopen(store: Store) -> None:
    await store.opt_out(ev(number=A, ts=T0))
    await store.opt_out(ev(number=B))
    await store.opt_in(ev(EventType.OPT_IN, number=B))
    await store.add_sent_counts({("2024-05-01", "acme", "c"): 3})
    before = (await store.events(), await store.changes_since(0), await store.list_suppressions())
    store = await reopen(store)
    try:
        after = (await store.events(), await store.changes_since(0), await store.list_suppressions())
        assert after == before
        assert await store.sent_counts() == [("2024-05-01", "acme", "c", 3)]
        assert await store.opt_out(ev(number=C)) is True
        assert await store.last_change_id() == 4
    finally:
        await store.close()


async def test_closed_store_refuses_use(store: Store) -> None:
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StoreClosedError):
        await store.opt_out(ev())
    with pytest.raises(StoreClosedError):
        await store.get_suppression("acme", A)
    with pytest.raises(StoreClosedError):
        await store.events(types=[])
    with pytest.raises(StoreClosedError):
        await store.import_suppressions([], channel=Channel.CLI, reason=None)
    with pytest.raises(StoreClosedError):
        await store.check_writable()
    await store.open()
    await store.check_writable()


async def test_concurrent_writers_in_one_process(store: Store) -> None:
    results: list[bool] = []

    async def one(i: int) -> None:
        results.append(await store.opt_out(ev(number=f"+4477009{i % 25:05d}")))

    async with anyio.create_task_group() as tg:
        for i in range(50):
            tg.start_soon(one, i)
    assert results.count(True) == 25
    assert len(await store.changes_since(0)) == 25
    assert len(await store.events()) == 50


async def test_cancelled_writes_are_all_or_nothing(store: Store) -> None:
    # Cancel opt-outs at different points: each one either fully happened or not at all, and
    # the store stays usable (no transaction left open, no lock left held).
    for steps in range(16):

        async def victim(number: str) -> None:
            await store.opt_out(ev(number=number))

        async with anyio.create_task_group() as tg:
            tg.start_soon(victim, f"+4477009{steps:05d}")
            for _ in range(steps):
                await anyio.lowlevel.checkpoint()
            tg.cancel_scope.cancel()
    events = await store.events()
    suppressed = await store.list_suppressions(limit=100)
    assert [e.number for e in events] == [s.number for s in suppressed]
    assert [e.id for e in events] == [s.event_id for s in suppressed]
    assert await store.opt_out(ev(number=B)) is True
    await store.check_writable()


# -- failures --------------------------------------------------------------------------------------


async def test_memory_store_fault_injection() -> None:
    async with MemoryStore() as store:
        await store.opt_out(ev())
        store.fail = True
        for write in (
            store.opt_out(ev(number=B)),
            store.opt_in(ev(EventType.OPT_IN)),
            store.append_events([ev(EventType.HELP)]),
            store.import_suppressions([("acme", C)], channel=Channel.CLI, reason=None),
            store.add_sent_counts({("d", "s", "c"): 1}),
            store.record_last_campaigns([("acme", A, "c", T0)]),
            store.check_writable(),
        ):
            with pytest.raises(StoreError):
                await write
        assert [s.number for s in await store.list_suppressions()] == [A]  # reads still work
        store.fail = False
        await store.check_writable()


async def test_sqlite_read_only_store_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "ro.db"
    async with SQLiteStore(path) as store:
        await store.opt_out(ev())
    async with SQLiteStore(path, pragmas={"query_only": 1}) as store:
        with pytest.raises(StoreError) as info:
            await store.opt_out(ev(number=B))
        assert isinstance(info.value.__cause__, sqlite3.OperationalError)
        with pytest.raises(StoreError):
            await store.check_writable()
        with pytest.raises(StoreError):
            await store.import_suppressions([("acme", C)], channel=Channel.CLI, reason=None)
        assert [s.number for s in await store.list_suppressions()] == [A]


async def test_sqlite_disk_full_raises_store_error_and_keeps_state(tmp_path: Path) -> None:
    path = tmp_path / "full.db"
    async with SQLiteStore(path) as store:
        await store.opt_out(ev())
    pages = sqlite3.connect(path).execute("PRAGMA page_count").fetchone()[0]
    async with SQLiteStore(path, pragmas={"max_page_count": pages}) as store:
        rows = [("acme", f"+4477{n:08d}") for n in range(20_000)]
        with pytest.raises(StoreError, match="full"):
            await store.import_suppressions(rows, channel=Channel.CLI, reason=None)
        with pytest.raises(StoreError, match="full"):
            await store.append_events([ev(EventType.HELP, text="x" * 100_000)])
        assert len(await store.list_suppressions()) == 1
        assert await store.opt_in(ev(EventType.OPT_IN)) is True  # still usable


async def test_sqlite_garbage_file_raises_store_error(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(os.urandom(8192))
    with pytest.raises(StoreError) as info:
        await SQLiteStore(path).open()
    assert isinstance(info.value.__cause__, sqlite3.DatabaseError)


async def test_sqlite_refuses_an_in_memory_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # SQLite would open a private in-memory database that cannot use WAL nor be shared with the
    # CLI; the store says so instead of creating a file named ":memory:".
    monkeypatch.chdir(tmp_path)
    with pytest.raises(StoreError, match=r"':memory:'.*in-memory.*needs a file"):
        await SQLiteStore(":memory:").open()
    assert list(tmp_path.iterdir()) == []


async def test_sqlite_unopenable_path_names_the_path_and_the_reason(tmp_path: Path) -> None:
    path = tmp_path / "missing" / "s.db"
    with pytest.raises(StoreError, match=f"opening {re.escape(str(path))} failed: .*No such file"):
        await SQLiteStore(path).open()


async def test_sqlite_replaced_file_fails_the_write_check(sqlite_store: SQLiteStore) -> None:
    await sqlite_store.check_writable()
    garbage = sqlite_store.path.with_name("garbage")
    garbage.write_bytes(b"not a database" * 100)
    os.replace(garbage, sqlite_store.path)
    with pytest.raises(StoreError, match="replaced"):
        await sqlite_store.check_writable()
    sqlite_store.path.unlink()
    with pytest.raises(StoreError):
        await sqlite_store.check_writable()


async def test_sqlite_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "new.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA user_version = 99")
    with pytest.raises(StoreError, match="schema version 99"):
        await SQLiteStore(path).open()


# -- SQLite specifics ------------------------------------------------------------------------------


async def test_sqlite_events_are_append_only(sqlite_store: SQLiteStore) -> None:
    await sqlite_store.opt_out(ev())
    conn = sqlite3.connect(sqlite_store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("UPDATE events SET number = '+1'")
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            conn.execute("DELETE FROM events")
    finally:
        conn.close()
    assert len(await sqlite_store.events()) == 1


async def test_sqlite_file_modes_and_pragmas(tmp_path: Path) -> None:
    old_umask = os.umask(0)
    try:
        async with SQLiteStore(tmp_path / "m.db") as store:
            await store.opt_out(ev())
            for suffix in ("", "-wal", "-shm"):
                mode = stat.S_IMODE(os.stat(f"{store.path}{suffix}").st_mode)
                assert mode == 0o600, (suffix, oct(mode))
            writer = store.db.writer
            assert writer is not None
            assert list(await writer.execute_fetchall("PRAGMA synchronous")) == [(2,)]  # FULL
            assert list(await writer.execute_fetchall("PRAGMA foreign_keys")) == [(1,)]
            busy = list(await writer.execute_fetchall("PRAGMA busy_timeout"))
            assert busy == [(5000,)]
    finally:
        os.umask(old_umask)
    conn = sqlite3.connect(tmp_path / "m.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        # Every migration applied (0002 events.operator; 0003-0004 issue 16; 0005 the console's counts).
        assert conn.execute("PRAGMA user_version").fetchone() == (len(migrations()),)
    finally:
        conn.close()


async def test_sqlite_tightens_stray_sidecar_modes(tmp_path: Path) -> None:
    path = tmp_path / "side.db"
    async with SQLiteStore(path):
        pass
    wal = tmp_path / "side.db-wal"
    wal.write_bytes(b"")
    os.chmod(wal, 0o644)
    async with SQLiteStore(path):
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600


async def test_sqlite_concurrent_first_open(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    stores = [SQLiteStore(path) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for s in stores:
            tg.start_soon(s.open)
    try:
        for i, s in enumerate(stores):
            assert await s.opt_out(ev(number=f"+4477009{i:05d}")) is True
        assert await stores[0].last_change_id() == 4
    finally:
        for s in stores:
            await s.close()


async def test_sqlite_two_instances_see_each_other(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with SQLiteStore(path) as proxy, SQLiteStore(path) as cli:
        cursor = await proxy.last_change_id()
        await cli.opt_out(ev(EventType.ADMIN_ADD, number=A, channel=Channel.CLI))
        assert await cli.import_suppressions([("acme", B)], channel=Channel.CLI, reason=None) == 1
        changes = await proxy.changes_since(cursor)
        assert [(c.number, c.suppressed) for c in changes] == [(A, True), (B, True)]
        await proxy.opt_in(ev(EventType.OPT_IN, number=A))
        assert (await cli.changes_since(changes[-1].id))[0] == Change(3, "acme", A, False)
        assert await proxy.get_suppression("acme", B) is not None
        assert await cli.get_suppression("acme", A) is None


async def test_sqlite_busy_writers_wait_then_fail(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    async with SQLiteStore(path, busy_timeout=0.3) as store:
        other = sqlite3.connect(path, isolation_level=None)  # another process, say the CLI
        try:
            other.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            with pytest.raises(StoreError, match="locked"):
                await store.opt_out(ev(number=A))
            assert time.monotonic() - started >= 0.25
            # Released within busy_timeout: the write just waits.
            async with anyio.create_task_group() as tg:
                tg.start_soon(store.opt_out, ev(number=B))
                await anyio.sleep(0.1)
                other.execute("COMMIT")
        finally:
            other.close()
        assert [s.number for s in await store.list_suppressions()] == [B]
        # The same bound applies to this process's own lock (held by a long import, say).
        release = anyio.Event()

        async def hold_lock(*, task_status: anyio.abc.TaskStatus[None]) -> None:
            async with store.db.write_lock:
                task_status.started()
                await release.wait()

        async with anyio.create_task_group() as tg:
            await tg.start(hold_lock)
            with pytest.raises(StoreError, match="busy"):
                await store.check_writable()
            release.set()
        await store.check_writable()


def test_split_sql_keeps_trigger_bodies() -> None:
    script = """
    -- a comment; with a semicolon
    CREATE TABLE t (a TEXT DEFAULT ';');
    CREATE TRIGGER x BEFORE DELETE ON t BEGIN SELECT RAISE(ABORT, 'no; never'); END;
    """
    statements = split_sql(script)
    assert len(statements) == 2
    assert statements[1].endswith("END;")
