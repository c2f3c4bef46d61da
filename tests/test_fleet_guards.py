"""State that stops Stopgate repeating itself, shared through the store (issue 15): the footer of
``footer_mode = "first_in_days"`` (across a restart and between two processes) and the confirmation
loop guard (two processes, one reply), on SQLite, PostgreSQL and the in-memory store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway.metrics import Metrics
from gateway.optout.engine import OptoutPolicy
from gateway.policy.decisions import Defer, Forward
from gateway.smpp.pdu import DeliverSm, SubmitSm
from gateway.store import MemoryStore, SQLiteStore, Store
from gateway.store.index import SuppressionIndex
from gateway.store.postgres import PostgresStore
from tests.pgdb import fresh_database
from tests.stack import make_config, running_stack
from tests.test_optout_e2e import FOOTER as E2E_FOOTER
from tests.test_optout_e2e import accounts, bound, submit
from tests.test_optout_engine import Clock, Log, Session

pytestmark = pytest.mark.anyio

FOOTER = b"Reply STOP to opt out"
FIRST_IN_DAYS = {
    "account": [
        {
            "system_id": "acme",
            "password": "acmepw",
            "upstream": "sim",
            "scope": "acme",
            "footer": FOOTER.decode(),
            "footer_mode": "first_in_days",
            "footer_days": 30,
            "help": "Acme alerts. Reply STOP to end.",
            "confirmation_window": 600,
        }
    ]
}

StoreFactory = Callable[[], Store]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreFactory]:
    """Clients of one store: the processes of a fleet (the memory store: one shared instance)."""
    if request.param == "postgres":
        with fresh_database() as url:
            yield lambda: PostgresStore(url)
        return
    if request.param == "sqlite":
        yield lambda: SQLiteStore(tmp_path / "shared.db")
        return
    shared = MemoryStore()
    yield lambda: shared


@asynccontextmanager
async def process(tmp_path: Path, store: Store) -> AsyncIterator[tuple[OptoutPolicy, Session, Log]]:
    """One Stopgate process's engine, running, on ``store``."""
    config = make_config(tmp_path, 1, FIRST_IN_DAYS)
    log = Log()
    async with AsyncExitStack() as stack:
        if not getattr(store, "_open", False):
            await stack.enter_async_context(store)
        policy = OptoutPolicy(config, store, SuppressionIndex(), Metrics(), log=log, clock=Clock())
        async with anyio.create_task_group() as tg:
            await tg.start(policy.run)
            yield policy, Session(config.accounts["acme"]), log
            tg.cancel_scope.cancel()


def footered(policy: OptoutPolicy, session: Session, number: str) -> bool:
    sm = SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr=number, short_message=b"Sale today")
    decision = policy.on_submit(session, sm)  # type: ignore[arg-type]
    assert isinstance(decision, Forward)
    return decision.pdu.short_message.endswith(FOOTER)  # type: ignore[union-attr]


async def test_first_in_days_survives_a_restart(tmp_path: Path, stores: StoreFactory) -> None:
    async with process(tmp_path, stores()) as (policy, session, _):
        assert footered(policy, session, "447700900701")
        assert not footered(policy, session, "447700900701")  # within the window: once
    # The process stopped (its batch written on the way out); its successor remembers.
    async with process(tmp_path, stores()) as (policy, session, _):
        assert not footered(policy, session, "447700900701")
        assert footered(policy, session, "447700900702")


async def test_first_in_days_is_shared_by_the_processes_of_a_fleet(
    tmp_path: Path, stores: StoreFactory
) -> None:
    async with (
        process(tmp_path, stores()) as (a, a_session, _),
        process(tmp_path, stores()) as (b, b_session, _),
    ):
        assert footered(a, a_session, "447700900711")
        # B reads back what A wrote (A's batch within 50 ms, B's reading every second).
        with anyio.fail_after(15):
            while ("acme", "+447700900711") not in b.footer_memory.memory:
                await anyio.sleep(0.05)
        assert not footered(b, b_session, "447700900711")
        assert footered(b, b_session, "447700900712")


def help_mo(number: str) -> DeliverSm:
    return DeliverSm(source_addr_ton=1, source_addr=number, destination_addr="88088", short_message=b"HELP")


async def keyword(policy: OptoutPolicy, session: Session, number: str) -> None:
    decision: Any = policy.on_deliver(session, help_mo(number))  # type: ignore[arg-type]
    if isinstance(decision, Defer):
        await decision.work()


async def test_two_processes_answer_a_repeated_keyword_once(tmp_path: Path, stores: StoreFactory) -> None:
    """An auto-responder's messages reaching two processes in turn get one reply in the window."""
    async with (
        process(tmp_path, stores()) as (a, a_session, _),
        process(tmp_path, stores()) as (b, b_session, b_log),
    ):
        await keyword(a, a_session, "447700900721")
        with anyio.fail_after(10):
            while not a_session.sent:
                await anyio.sleep(0.01)
        await keyword(b, b_session, "447700900721")
        with anyio.fail_after(10):
            while not any("another process" in event for _, event, _ in b_log.lines):
                await anyio.sleep(0.01)
        assert b_session.sent == [] and len(a_session.sent) == 1
        # Another number is another conversation: B answers it.
        await keyword(b, b_session, "447700900722")
        with anyio.fail_after(10):
            while not b_session.sent:
                await anyio.sleep(0.01)


async def test_a_reply_goes_when_the_store_cannot_be_asked(tmp_path: Path) -> None:
    store = MemoryStore()
    async with process(tmp_path, store) as (policy, session, log):
        store.fail = True
        await keyword(policy, session, "447700900731")
        with anyio.fail_after(10):
            while not session.sent:
                await anyio.sleep(0.01)
        assert any("not shared" in event for _, event, _ in log.lines)
        # This process's own memory still guards the window.
        await keyword(policy, session, "447700900731")
        await anyio.sleep(0.2)
        assert len(session.sent) == 1


async def test_a_restarted_stopgate_does_not_repeat_the_footer_within_the_window(tmp_path: Path) -> None:
    """End to end: an ESME's submits through `App` on a SQLite file, stopped and started again."""
    override = accounts(footer_mode="first_in_days", footer_days=30)
    texts = []
    for _ in range(2):  # the same message to the same number, once per run
        async with running_stack(tmp_path, override) as stack:
            esme = await bound(stack)
            assert (await submit(esme, text="Big sale today")).status == 0
            (received,) = await stack.smsc.wait_for_submits(1)
            texts.append(received.text)
            esme.close()
    assert texts == [f"Big sale today {E2E_FOOTER}", "Big sale today"]
