"""The console's parts without a browser: named tokens and roles, sessions, the sign-in limit, the
store's maintained counts (SQLite triggers against the in-memory store's scan of the log), the
overview's arithmetic, and the API refusing a viewer's write (issue 17)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config import ConfigError
from gateway.config.passwords import hash_password
from gateway.ops.admin import AdminServer
from gateway.ops.console.overview import CampaignRate, summarise
from gateway.ops.console.sessions import IDLE_TIMEOUT, MAX_AGE, Sessions, SignInLimiter
from gateway.store import (
    Channel,
    DayCount,
    Event,
    EventType,
    MemoryStore,
    SQLiteStore,
    Store,
    Total,
)
from gateway.store.sqlite import migrations, split_sql
from tests.stack import make_config
from tools.console_client import admin_context

pytestmark = pytest.mark.anyio

TOKENS: dict[str, Any] = {
    "admin": {
        "enabled": True,
        "listen": "127.0.0.1:0",
        "tokens": ["legacy"],
        "token": [
            {"name": "alice", "role": "admin", "token": "alice-token"},
            {"name": "victor", "role": "viewer", "token": "victor-token"},
        ],
    }
}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- config and roles ----------------------------------------------------------------------------


def test_named_tokens_keep_the_old_list_as_admins_token1_to_n(tmp_path: Path) -> None:
    admin = make_config(tmp_path, 2775, TOKENS).admin
    assert admin.tokens == ("legacy",)
    assert [(t.name, t.role) for t in admin.credentials] == [
        ("token1", "admin"),
        ("alice", "admin"),
        ("victor", "viewer"),
    ]
    assert admin.identify("victor-token").name == "victor"  # type: ignore[union-attr]
    assert admin.identify("legacy").name == "token1"  # type: ignore[union-attr]
    assert admin.identify("nope") is None


def test_a_token_hash_is_accepted_and_checked(tmp_path: Path) -> None:
    hashed = hash_password("hashed-secret", iterations=1000)
    admin = make_config(
        tmp_path, 2775, {"admin": {"token": [{"name": "ops", "role": "admin", "token_hash": hashed}]}}
    ).admin
    assert admin.identify("hashed-secret").name == "ops"  # type: ignore[union-attr]
    assert admin.identify("hashed-secreT") is None


@pytest.mark.parametrize(
    ("token", "fragment"),
    [
        ({"name": "a", "role": "admin"}, "admin.token[0].token: set exactly one of token or token_hash"),
        ({"name": "a", "role": "boss", "token": "x"}, "admin.token[0].role: expected one of"),
        ({"name": "token1", "token": "x"}, "admin.token[0].name: duplicate token name 'token1'"),
        ({"name": "a b", "token": "x"}, "admin.token[0].name: use at most 64 letters"),
        ({"name": "a", "token_hash": "md5$1$a$b"}, "admin.token[0].token_hash: unsupported algorithm"),
        ({"name": "a", "token": "legacy"}, "the same token value is configured twice"),
    ],
)
def test_bad_named_tokens_are_refused(tmp_path: Path, token: dict[str, Any], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        make_config(tmp_path, 2775, {"admin": {"tokens": ["legacy"], "token": [token]}})
    assert fragment in str(err.value)


async def test_the_api_refuses_a_viewers_write_and_records_the_token_name(tmp_path: Path) -> None:
    store = MemoryStore()
    await store.open()
    config = make_config(tmp_path, 2775, TOKENS)
    context = admin_context(store, config)
    server = AdminServer(context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://a") as c:
        body = {"number": "07700900401", "scope": "acme"}
        viewer = {"Authorization": "Bearer victor-token"}
        assert (await c.get("/v1/suppressions", headers=viewer)).status_code == 200
        refused = await c.post("/v1/suppressions", json=body, headers=viewer)
        assert refused.status_code == 403 and "viewer" in refused.json()["error"]
        added = await c.post("/v1/suppressions", json=body, headers={"Authorization": "Bearer alice-token"})
        assert added.status_code == 201
        legacy = await c.request(
            "DELETE",
            "/v1/suppressions/07700900401?scope=acme&reason=test",
            headers={"Authorization": "Bearer legacy"},
        )
        assert legacy.status_code == 200
    assert [e.operator for e in await store.events()] == ["api:alice", "api:token1"]


# -- sessions and the sign-in limit --------------------------------------------------------------


def test_sessions_expire_when_idle_or_old_and_follow_the_config(tmp_path: Path) -> None:
    admin = make_config(tmp_path, 2775, TOKENS).admin
    alice = admin.identify("alice-token")
    assert alice is not None
    clock = Clock()
    sessions = Sessions(clock=clock)
    sid = sessions.start(alice)
    assert sessions.find(sid, admin) is not None
    assert sessions.find("forged", admin) is None
    clock.now += IDLE_TIMEOUT + 1
    assert sessions.find(sid, admin) is None  # idle too long, and forgotten
    sid = sessions.start(alice)
    for _ in range(int(MAX_AGE // (IDLE_TIMEOUT / 2)) + 1):
        clock.now += IDLE_TIMEOUT / 2
        found = sessions.find(sid, admin)
    assert found is None  # too old, however busy
    sid = sessions.start(alice)
    demoted = make_config(
        tmp_path, 2775, {"admin": {"token": [{"name": "alice", "role": "viewer", "token": "alice-token"}]}}
    ).admin
    assert sessions.find(sid, demoted) is None  # the role changed in a reload: sign in again
    sid = sessions.start(alice)
    removed = make_config(tmp_path, 2775, {"admin": {"tokens": ["legacy"]}}).admin
    assert sessions.find(sid, removed) is None


def test_the_sign_in_limit_counts_failures_per_address_in_a_window() -> None:
    clock = Clock()
    limiter = SignInLimiter(clock=clock, max_failures=3, window=60.0)
    for _ in range(3):
        assert limiter.wait("10.0.0.1") == 0
        limiter.failed("10.0.0.1")
    assert limiter.wait("10.0.0.1") == pytest.approx(60.0)
    assert limiter.wait("10.0.0.2") == 0  # another address is not affected
    clock.now += 30
    assert limiter.wait("10.0.0.1") == pytest.approx(30.0)
    clock.now += 30
    assert limiter.wait("10.0.0.1") == 0
    limiter.failed("10.0.0.1")
    limiter.succeeded("10.0.0.1")
    assert limiter.wait("10.0.0.1") == 0


# -- the maintained counts -----------------------------------------------------------------------

DAY1 = datetime(2025, 4, 10, 12, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


def _event(type_: EventType, number: str, ts: datetime, **kw: Any) -> Event:
    return Event(
        type=type_,
        number=number,
        scope=kw.pop("scope", "acme"),
        channel=kw.pop("channel", Channel.SMS),
        ts=ts,
        **kw,
    )


async def _fill(store: Store) -> None:
    await store.record_last_campaigns([("acme", "+447700900401", "spring", DAY1)])
    await store.add_sent_counts({("2025-04-10", "acme", "spring"): 150, ("2025-04-11", "acme", "spring"): 50})
    await store.opt_out(_event(EventType.OPT_OUT, "+447700900401", DAY1, keyword="STOP", text="Stop"))
    await store.opt_out(_event(EventType.OPT_OUT, "+447700900401", DAY1, keyword="STOP", text="STOP"))
    await store.opt_out(_event(EventType.OPT_OUT, "+447700900402", DAY2, keyword="END", campaign="summer"))
    await store.append_events(
        [_event(EventType.BLOCKED, "+447700900401", DAY2, campaign="spring") for _ in range(3)]
        + [_event(EventType.HELP, "+447700900403", DAY2, keyword="HELP", scope="beta")]
    )
    await store.opt_in(_event(EventType.ADMIN_REMOVE, "+447700900402", DAY2, channel=Channel.API, reason="r"))
    await store.import_suppressions([("beta", "+447700900404")], channel=Channel.IMPORT, reason="file")


async def _counts(store: Store) -> dict[str, Any]:
    since = date(2025, 4, 1)
    out: dict[str, Any] = {
        "daily": await store.daily_counts(since),
        "daily_acme": await store.daily_counts(since, "acme"),
        "size": (await store.suppression_count(), await store.suppression_count("acme")),
        "sent": await store.sent_totals("2025-04-11"),
    }
    for by in ("channel", "keyword", "campaign"):
        out[by] = sorted(await store.totals(by, since), key=repr)  # type: ignore[arg-type]
    out["bounds"] = await store.event_id_bounds(date(2025, 4, 11), date(2025, 4, 12))
    return out


async def test_sqlite_counts_kept_by_triggers_match_a_scan_of_the_log(tmp_path: Path) -> None:
    memory = MemoryStore()
    await memory.open()
    await _fill(memory)
    async with SQLiteStore(tmp_path / "c.db") as sqlite:
        await _fill(sqlite)
        kept = await _counts(sqlite)
    scanned = await _counts(memory)
    # The import is stamped "now", not on the two days above: compare the rest.
    assert (
        kept["daily_acme"]
        == scanned["daily_acme"]
        == [
            DayCount(DAY1.date(), EventType.OPT_OUT, 2, 1),
            DayCount(DAY2.date(), EventType.ADMIN_REMOVE, 1, 1),
            DayCount(DAY2.date(), EventType.BLOCKED, 3, 0),
            DayCount(DAY2.date(), EventType.OPT_OUT, 1, 1),
        ]
    )
    assert kept["size"] == scanned["size"] == (2, 1)
    assert kept["sent"] == scanned["sent"] == [("acme", "spring", 50)]
    assert (
        kept["keyword"]
        == scanned["keyword"]
        == [
            Total("acme", EventType.OPT_OUT, "END", 1, 1),
            Total("acme", EventType.OPT_OUT, "STOP", 2, 1),
        ]
    )
    assert (
        kept["campaign"]
        == scanned["campaign"]
        == [
            Total("acme", EventType.OPT_OUT, "spring", 2, 1),
            Total("acme", EventType.OPT_OUT, "summer", 1, 1),
        ]
    )
    assert kept["channel"] == scanned["channel"]
    assert kept["bounds"] == scanned["bounds"] == (3, 8)
    assert kept["daily"] == scanned["daily"]


async def test_migration_0007_counts_a_log_written_before_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    async with SQLiteStore(path) as store:
        await _fill(store)
        expected = await _counts(store)
    # Empty the counts, as in a store written before 0007, and run 0007's backfill on the log.
    conn = sqlite3.connect(path, isolation_level=None)
    for table in ("event_days", "optout_keywords", "optout_campaigns", "suppression_counts"):
        conn.execute(f"DELETE FROM {table}")
    for statement in split_sql(migrations()[6][1]):
        if statement.startswith("INSERT"):
            conn.execute(statement)
    conn.close()
    async with SQLiteStore(path) as store:
        assert await _counts(store) == expected


# -- the overview's arithmetic -------------------------------------------------------------------


def test_summarise_fills_days_rebuilds_the_list_size_and_rates_campaigns() -> None:
    today = date(2025, 4, 12)
    values = summarise(
        today=today,
        days=30,
        daily=[
            DayCount(date(2025, 4, 10), EventType.OPT_OUT, 5, 4),
            DayCount(date(2025, 4, 11), EventType.IMPORT, 10, 10),
            DayCount(date(2025, 4, 12), EventType.OPT_IN, 1, 1),
            DayCount(date(2025, 1, 1), EventType.OPT_OUT, 99, 99),  # before the period
        ],
        channels=[
            Total("acme", EventType.OPT_OUT, "sms", 5, 4),
            Total("acme", EventType.IMPORT, "import", 10, 10),
        ],
        keywords=[
            Total("acme", EventType.OPT_OUT, "stop", 4, 3),
            Total("acme", EventType.OPT_OUT, None, 1, 1),
        ],
        campaigns=[
            Total("acme", EventType.OPT_OUT, "spring", 3, 3),
            Total("acme", EventType.OPT_OUT, "x", 2, 1),
        ],
        sent=[("acme", "spring", 100), ("acme", "x", 1000), ("acme", "quiet", 10_000)],
        list_size=20,
    )
    assert values["totals"] == {"Opt-outs": 5, "Opt-ins": 1, "HELP": 0, "Blocked": 0}
    assert values["list_size_start"] == 20 - 4 - 10 + 1
    assert values["keywords"] == [("STOP", 4), ("(NONE)", 1)]
    assert dict(values["channels"]) == {"sms": 5, "import": 10}
    levels = {c.campaign: c.level for c in values["campaigns"]}
    assert levels == {"spring": "critical", "x": "good", "quiet": "good"}
    assert CampaignRate("s", "c", 1000, 10).level == "watch"
    assert CampaignRate("s", "c", 0, 1).level == "unknown"
    assert "</" not in values["chart"]
