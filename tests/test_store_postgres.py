"""PostgreSQL specifics: append-only log, fleet-safe migrations, a change feed that never skips a late
commit, ordering across writers, NOTIFY wake-ups, losing the server, ``stopgate store copy``.

Each test runs on a database of its own (tests/pgdb.py) on the machine's PostgreSQL.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import anyio
import psycopg
import pytest
from click.testing import CliRunner

from gateway.config import ConfigError, load_config
from gateway.ops.cli.main import main as cli
from gateway.store.backends import make_store
from gateway.store.feed import ChangeFollower
from gateway.store.index import SuppressionIndex, build_index
from gateway.store.model import Channel, Event, EventType, StoreError
from gateway.store.postgres import PostgresStore
from gateway.store.postgres import bulk_import as pg_bulk_import
from gateway.store.postgres import copy as copy_module
from gateway.store.postgres import writes as pg_writes
from gateway.store.postgres.connection import Database
from gateway.store.postgres.schema import applied_versions, migrate, migrations
from gateway.store.sqlite import SQLiteStore
from tests.config_file import write_config
from tests.pgdb import pg_url

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
A = "+447700900401"
B = "+447700900402"


def ev(type_: EventType = EventType.OPT_OUT, number: str = A, scope: str = "acme") -> Event:
    return Event(type=type_, number=number, scope=scope, channel=Channel.SMS)


@pytest.fixture
async def store(pg_url: str) -> AsyncIterator[PostgresStore]:
    async with PostgresStore(pg_url) as s:
        yield s


async def connect(url: str) -> psycopg.AsyncConnection[tuple[object, ...]]:
    return await psycopg.AsyncConnection.connect(url, autocommit=True)


async def test_events_are_append_only(store: PostgresStore) -> None:
    await store.opt_out(ev())
    async with await connect(store.url) as conn:
        for statement in ("UPDATE events SET number = 'x'", "DELETE FROM events", "TRUNCATE events CASCADE"):
            with pytest.raises(psycopg.errors.RaiseException, match="append-only"):
                await conn.execute(statement.encode())
    assert len(await store.events()) == 1


async def test_concurrent_migrators_on_a_fresh_database(pg_url: str) -> None:
    results: list[list[int]] = []

    async def migrator() -> None:
        async with await connect(pg_url) as conn:
            results.append(await migrate(conn))

    async with anyio.create_task_group() as tg:
        for _ in range(8):
            tg.start_soon(migrator)
    everything = [v for v, _ in migrations()]
    assert sorted(results, key=len)[-1] == everything  # one applied them all...
    assert sum(len(r) for r in results) == len(everything)  # ...the others nothing
    async with await connect(pg_url) as conn:
        assert await applied_versions(conn) == everything
    # And stores opened at once on the same fresh database agree too.
    stores = [PostgresStore(pg_url) for _ in range(4)]
    async with anyio.create_task_group() as tg:
        for s in stores:
            tg.start_soon(s.open)
    for s in stores:
        await s.close()


async def test_a_newer_schema_is_refused(pg_url: str) -> None:
    async with PostgresStore(pg_url):
        pass
    async with await connect(pg_url) as conn:
        await conn.execute("INSERT INTO schema_migrations (version) VALUES (99)")
    with pytest.raises(StoreError, match="schema version 99"):
        await PostgresStore(pg_url).open()


async def test_unreachable_server_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="opening"):
        await PostgresStore("postgresql://postgres@127.0.0.1:1/none", timeout=1).open()


async def test_late_commit_is_not_skipped(store: PostgresStore) -> None:
    """T1 takes the lower event id but commits after T2: the follower must still see both."""
    index = SuppressionIndex()
    follower = ChangeFollower(store, index, after_id=await store.last_change_id())
    async with await connect(store.url) as slow:
        async with slow.transaction():
            assert await pg_writes.opt_out(slow, ev(number=A))  # id 1, not committed
            assert await store.opt_out(ev(number=B))  # id 2, committed
            # A follower polling "id > last" would now read id 2 and move past id 1 for good.
            assert [e.number for e in await store.events(after_id=0)] == [B]
            await follower.sync()
            assert not index.contains("acme", B)  # held back, not skipped
            assert await store.changes_since(0) == []
        await follower.sync()
    assert index.contains("acme", A) and index.contains("acme", B)
    ids = [c.id for c in await store.changes_since(0)]
    assert sorted(ids) == [1, 2]
    assert await store.changes_since(follower.after_id) == []


async def test_local_opt_out_is_pinned_while_the_feed_is_held_back(store: PostgresStore) -> None:
    index = SuppressionIndex()
    follower = ChangeFollower(store, index, after_id=0)
    async with await connect(store.url) as other:
        async with other.transaction():
            await pg_writes.opt_out(other, ev(number=A))  # an older transaction, still open
            assert await store.opt_out(ev(number=B))
            await follower.apply_local("acme", B, True)
            assert index.contains("acme", B)  # blocked at once, though the feed holds it back
            await follower.sync()
            assert index.contains("acme", B)
        await follower.sync()
    assert index.contains("acme", A) and index.contains("acme", B)
    assert await store.opt_in(ev(EventType.OPT_IN, number=B))
    await follower.apply_local("acme", B, False)
    assert not index.contains("acme", B)  # the pin did not outlive the opt-in


async def test_writers_in_several_processes_replay_to_the_stored_state(pg_url: str) -> None:
    """Racing opt-outs, opt-ins and an import from three stores: replaying the feed in its order
    gives exactly the suppressions table (the per-number lock orders xids like commits)."""
    numbers = [f"+4477009{n:05d}" for n in range(12)]
    stores = [PostgresStore(pg_url) for _ in range(3)]
    for s in stores:
        await s.open()
    try:
        index = SuppressionIndex()
        follower = ChangeFollower(stores[0], index, after_id=0)
        rng = random.Random(15)

        async def writer(s: PostgresStore, seed: int) -> None:
            r = random.Random(seed)
            for _ in range(60):
                number = r.choice(numbers)
                if r.random() < 0.5:
                    await s.opt_out(ev(number=number))
                else:
                    await s.opt_in(ev(EventType.OPT_IN, number=number))

        async def importer(s: PostgresStore) -> None:
            for _ in range(3):
                await s.import_suppressions(
                    [("acme", n) for n in rng.sample(numbers, 6)], channel=Channel.IMPORT, reason=None
                )

        async def following() -> None:
            for _ in range(40):
                await follower.sync()
                await anyio.sleep(0.01)

        async with anyio.create_task_group() as tg:
            for i, s in enumerate(stores):
                tg.start_soon(writer, s, i)
                tg.start_soon(writer, s, 100 + i)
            tg.start_soon(importer, stores[2])
            tg.start_soon(following)
        await follower.sync()
        stored = {(s.scope, s.number) async for s in stores[1].iter_suppressions()}
        assert {("acme", n) for n in numbers if index.contains("acme", n)} == stored
        rebuilt, _ = await build_index(stores[1])
        assert {("acme", n) for n in numbers if rebuilt.contains("acme", n)} == stored
    finally:
        for s in stores:
            await s.close()


async def test_notify_wakes_a_waiting_follower(store: PostgresStore, pg_url: str) -> None:
    await store.wait_for_change(1)  # connects the listener (returns at once)
    async with PostgresStore(pg_url) as other, anyio.create_task_group() as tg:
        started = anyio.current_time()
        woke: list[float] = []

        async def wait() -> None:
            await store.wait_for_change(10)
            woke.append(anyio.current_time() - started)

        tg.start_soon(wait)
        await anyio.sleep(0.2)
        await other.opt_out(ev())
    assert woke and woke[0] < 2


async def test_a_restarted_connection_is_replaced(store: PostgresStore) -> None:
    await store.opt_out(ev())
    async with await connect(store.url) as admin:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    # The pool checks a connection before lending it: the next calls work without a restart.
    assert await store.opt_out(ev(number=B))
    await store.check_writable()
    assert len(await store.changes_since(0)) == 2


async def _old_store(db: Path) -> None:
    async with SQLiteStore(db) as old:
        await old.import_suppressions(
            [("acme", f"+4477009{n:05d}") for n in range(2500)], channel=Channel.IMPORT, reason="r"
        )
        await old.opt_out(ev(number=A))
        await old.opt_in(ev(EventType.OPT_IN, number=A))
        await old.append_events([ev(EventType.HELP, number=B)])
        await old.add_sent_counts({("2024-05-01", "acme", "spring"): 7})
        await old.record_last_campaigns([("acme", B, "spring", T0)])
        await old.record_footers([("acme", B, T0)])


async def _compare(db: Path, url: str) -> None:
    async with PostgresStore(url) as new, SQLiteStore(db) as old:
        assert await new.events() == await old.events()
        assert [s async for s in new.iter_suppressions()] == [s async for s in old.iter_suppressions()]
        assert await new.sent_counts() == await old.sent_counts()
        assert await new.last_campaign("acme", B) == "spring"
        assert await new.footers_since(T0) == [("acme", B, T0)]
        assert [c.id for c in await new.changes_since(0)] == [c.id for c in await old.changes_since(0)]
        assert await new.opt_out(ev(number="+15005550006"))
        last = (await new.events())[-1]
        assert last.id == 2504  # the id sequence continues after the copied log


def test_store_copy_from_sqlite_is_verified(tmp_path: Path, pg_url: str) -> None:
    db = tmp_path / "old.db"
    anyio.run(_old_store, db)
    result = CliRunner().invoke(cli, ["store", "copy", "--from", str(db), "--to", pg_url])
    assert result.exit_code == 0, result.output
    assert "copy verified" in result.output
    assert "events          source       2503 rows" in result.output
    anyio.run(_compare, db, pg_url)
    # A second copy into the now non-empty database is refused.
    again = CliRunner().invoke(cli, ["store", "copy", "--from", str(db), "--to", pg_url])
    assert again.exit_code != 0 and "empty database" in again.output


def test_store_copy_reports_a_mismatch(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "old.db"
    anyio.run(_old_store, db)
    real = copy_module._sums

    async def tampered(database: Database) -> dict[str, tuple[int, str]]:
        sums = await real(database)
        rows, _ = sums["suppressions"]
        sums["suppressions"] = (rows, "0" * 64)
        return sums

    monkeypatch.setattr(copy_module, "_sums", tampered)
    result = CliRunner().invoke(cli, ["store", "copy", "--from", str(db), "--to", pg_url])
    assert result.exit_code != 0
    assert "MISMATCH" in result.output and "does not match" in result.output


def test_store_migrate_command(tmp_path: Path, pg_url: str) -> None:
    config = write_config(tmp_path / "c.toml", 2775, {"storage": {"url": pg_url}})
    result = CliRunner().invoke(cli, ["store", "migrate", "--config", str(config)])
    assert result.exit_code == 0, result.output

    async def versions() -> list[int]:
        async with await connect(pg_url) as conn:
            return await applied_versions(conn)

    assert anyio.run(versions) == [v for v, _ in migrations()]


def test_storage_url_selects_postgres(tmp_path: Path, pg_url: str) -> None:
    config = load_config(write_config(tmp_path / "c.toml", 2775, {"storage": {"url": pg_url}}))
    assert config.storage.url == pg_url
    assert isinstance(make_store(config.storage.path, config.storage.url), PostgresStore)
    default = load_config(write_config(tmp_path / "d.toml", 2775))
    assert default.storage.url is None
    assert isinstance(make_store(default.storage.path, default.storage.url), SQLiteStore)
    with pytest.raises(ConfigError, match=r"storage\.url"):
        load_config(write_config(tmp_path / "e.toml", 2775, {"storage": {"url": "mysql://x/y"}}))


async def test_a_pin_does_not_outlive_a_later_opt_in(store: PostgresStore, pg_url: str) -> None:
    """Our opt-out and another process's opt-in both held back, then delivered before the pin is
    made: the pin must lapse once the feed has settled past it, leaving the number unblocked."""
    index = SuppressionIndex()
    follower = ChangeFollower(store, index, after_id=0)
    async with PostgresStore(pg_url) as other, await connect(store.url) as old:
        async with old.transaction():
            await pg_writes.opt_out(old, ev(number=A))
            assert await store.opt_out(ev(number=B))
            assert await other.opt_in(ev(EventType.OPT_IN, number=B))
        await follower.sync()  # the poller delivers both changes of B first
        await follower.apply_local("acme", B, True)  # the engine's call arrives late
        assert index.contains("acme", B)  # pinned: this process cannot tell yet
        await follower.sync()
    assert not index.contains("acme", B)
    assert index.contains("acme", A)


async def test_feed_lag_counts_time_held_back_by_an_open_transaction(store: PostgresStore) -> None:
    follower = ChangeFollower(store, SuppressionIndex(), after_id=0)
    assert follower.lag() == float("inf")
    await follower.sync()
    assert follower.lag() < 0.5
    async with await connect(store.url) as old:
        async with old.transaction():
            await pg_writes.opt_out(old, ev(number=A))  # an older transaction, still open...
            assert await store.opt_out(ev(number=B))  # ...holds this commit back from every follower
            await anyio.sleep(0.6)
            await follower.sync()  # succeeds, yet cannot see past the open transaction
            assert follower.lag() >= 0.6
            assert not follower.index.contains("acme", B)
        await follower.sync()
    assert follower.lag() < 0.5
    assert follower.index.contains("acme", A) and follower.index.contains("acme", B)


async def test_feed_lag_grows_while_the_store_is_closed(pg_url: str) -> None:
    store = PostgresStore(pg_url)
    await store.open()
    follower = ChangeFollower(store, SuppressionIndex(), after_id=0)
    await follower.sync()
    await store.close()
    await anyio.sleep(0.3)
    with pytest.raises(StoreError):
        await follower.sync()
    assert follower.lag() >= 0.3


async def test_loading_numbers_page_by_page_keeps_odd_numbers_whole(store: PostgresStore) -> None:
    """Pages come joined on a line break: a stored number holding one (or other odd text) still
    loads as itself, and every page of a scope in order."""
    numbers = sorted([f"+4477009{n:05d}" for n in range(12)] + ["odd\nnumber", "short"])
    await store.import_suppressions(
        [("acme", n) for n in numbers if "\n" not in n], channel=Channel.IMPORT, reason="r"
    )
    async with await connect(store.url) as conn:  # past the import's checks, as an older release could
        await conn.execute(
            "INSERT INTO suppressions (scope, number, since, channel, event_id)"
            " VALUES ('acme', 'odd\nnumber', 0, 'import', 0), ('beta', '+15005550006', 0, 'import', 0)"
        )
    chunks = [c async for c in store.load_numbers(batch=5)]
    assert [scope for scope, _ in chunks] == ["acme", "acme", "acme", "beta"]
    assert [n for scope, chunk in chunks if scope == "acme" for n in chunk] == numbers
    assert chunks[-1] == ("beta", ["+15005550006"])


async def test_a_large_import_vacuums_so_loads_need_not_read_the_heap(
    store: PostgresStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until a vacuum marks the table's pages all-visible, a start-up load reads every row's heap
    page too (~40 s instead of ~7 s for 10M numbers). A small import leaves it to autovacuum."""

    async def all_visible_pages() -> int:
        async with await connect(store.url) as conn:
            cur = await conn.execute("SELECT relallvisible FROM pg_class WHERE relname = 'suppressions'")
            row = await cur.fetchone()
            return int(row[0]) if row else -1

    async with await connect(store.url) as conn:  # no autovacuum in the way of the first assert
        await conn.execute("ALTER TABLE suppressions SET (autovacuum_enabled = false)")
    monkeypatch.setattr(pg_bulk_import, "VACUUM_AFTER", 500)
    acme = [("acme", f"+4477009{n:05d}") for n in range(499)]
    beta = [("beta", f"+4477009{n:05d}") for n in range(500)]
    await store.import_suppressions(acme, channel=Channel.IMPORT, reason=None)
    assert await all_visible_pages() == 0
    await store.import_suppressions(beta, channel=Channel.IMPORT, reason=None)
    assert await all_visible_pages() > 0
    assert len((await build_index(store))[0]) == 999


async def test_loading_numbers_across_scopes_with_full_last_pages(store: PostgresStore) -> None:
    """Pages are requested ahead, across scope ends too: a scope ending on a full page, an empty
    store and every scope in order still give exactly the stored chunks."""
    assert [c async for c in store.load_numbers(batch=2)] == []
    rows = [("a", "+1"), ("a", "+2"), ("b", "+3"), ("b", "+4"), ("b", "+5"), ("b", "+6"), ("c", "+7")]
    await store.import_suppressions(rows, channel=Channel.IMPORT, reason=None)
    assert [c async for c in store.load_numbers(batch=2)] == [
        ("a", ["+1", "+2"]), ("b", ["+3", "+4"]), ("b", ["+5", "+6"]), ("c", ["+7"])
    ]
