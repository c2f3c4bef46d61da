"""The opt-out engine in-process, without sockets: a fake session, a memory store and a clock the
test moves (the end-to-end behaviour is in test_optout_e2e.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import pytest

from gateway.config import AccountConfig
from gateway.metrics import Metrics
from gateway.optout.audit import FLUSH_DELAY
from gateway.optout.engine import OptoutPolicy
from gateway.policy.decisions import Forward, Respond
from gateway.smpp.constants import BindMode, CommandStatus, EsmClass
from gateway.smpp.pdu import DeliverSm, Pdu, SubmitSm, SubmitSmResp
from gateway.store.index import SuppressionIndex
from gateway.store.memory import MemoryStore
from gateway.text.udh import concat_udh
from tests.stack import make_config

pytestmark = pytest.mark.anyio

SENDER = "447700900123"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Log:
    """Records what the engine logs, as (level, event, fields)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict[str, Any]]] = []

    def bind(self, **_: Any) -> Log:
        return self

    def __getattr__(self, level: str) -> Callable[..., None]:
        return lambda event, **kw: self.lines.append((level, event, kw))


@dataclass
class Session:
    account: AccountConfig
    session_id: str = "s1"
    bind_mode: BindMode = BindMode.TRANSCEIVER
    sent: list[Pdu] = field(default_factory=list)

    async def transmit(self, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None) -> Pdu:
        self.sent.append(pdu)
        resp = SubmitSmResp(message_id=f"smsc{len(self.sent)}")
        if on_response is not None:
            on_response(resp)
        return resp

    async def send_to_esme(self, pdu: Pdu) -> Pdu | None:
        return None


async def engine(
    tmp_path: Path, override: dict[str, Any] | None = None
) -> tuple[OptoutPolicy, Clock, Log, Session]:
    config = make_config(tmp_path, 1, override)
    clock, log, store = Clock(), Log(), MemoryStore()
    await store.open()
    policy = OptoutPolicy(config, store, SuppressionIndex(), Metrics(), log=log, clock=clock)
    return policy, clock, log, Session(config.accounts["acme"])


def mo_part(reference: int, total: int, seq: int, text: str, source: str = SENDER) -> DeliverSm:
    return DeliverSm(
        source_addr_ton=1,
        source_addr=source,
        destination_addr="88088",
        esm_class=EsmClass.UDHI,
        short_message=concat_udh(reference, total, seq) + text.encode(),
    )


async def test_evicted_mo_parts_are_logged_and_counted(tmp_path: Path) -> None:
    policy, _, log, session = await engine(tmp_path, {"optout": {"max_held_messages": 1}})
    assert isinstance(policy.on_deliver(session, mo_part(1, 2, 1, "hello ")), Forward)
    # A second long MO pending pushes the first out: it can no longer complete.
    assert isinstance(policy.on_deliver(session, mo_part(2, 3, 1, "more ")), Forward)
    [(level, _, fields)] = [line for line in log.lines if "dropped" in line[1]]
    assert level == "warning"
    assert fields == {"number": "447*******23", "parts": 1, "total": 2}
    assert SENDER not in str(log.lines)
    counted = policy.metrics.registry.get_sample_value("stopgate_mo_messages_evicted_total")
    assert counted == 1.0


async def test_a_reused_reference_counts_the_message_it_replaces(tmp_path: Path) -> None:
    policy, _, log, session = await engine(tmp_path)
    policy.on_deliver(session, mo_part(7, 3, 1, "one "))
    policy.on_deliver(session, mo_part(7, 3, 2, "two "))
    policy.on_deliver(session, mo_part(7, 2, 1, "new "))  # same reference, other total
    [(_, _, fields)] = [line for line in log.lines if "dropped" in line[1]]
    assert (fields["parts"], fields["total"]) == (2, 3)
    assert policy.metrics.registry.get_sample_value("stopgate_mo_messages_evicted_total") == 1.0


async def test_next_deadline_follows_what_is_pending(tmp_path: Path) -> None:
    policy, clock, _, session = await engine(tmp_path, {"optout": {"reassembly_timeout": 30.0}})
    assert policy.next_deadline() is None  # nothing pending: the timer sleeps until woken
    policy.on_deliver(session, mo_part(1, 2, 1, "hello "))
    assert policy.next_deadline() == clock.now + 30.0
    clock.now += 1.0
    policy.on_submit(session, SubmitSm(destination_addr="447700900999", short_message=b"Sale"))
    assert policy.next_deadline() == clock.now + FLUSH_DELAY  # the sent counter's batch
    await policy.handle_timer(clock.now + FLUSH_DELAY)
    assert policy.next_deadline() == clock.now - 1.0 + 30.0
    await policy.handle_timer(clock.now + 29.0)  # the long MO times out
    assert policy.next_deadline() is None
    assert await policy.store.sent_counts() != {}


async def test_held_parts_arm_their_own_deadline(tmp_path: Path) -> None:
    policy, clock, _, session = await engine(tmp_path, {"optout": {"hold_timeout": 5.0}})
    part = SubmitSm(
        destination_addr="447700900999",
        esm_class=EsmClass.UDHI,
        short_message=concat_udh(3, 2, 1) + b"first half ",
    )
    async with anyio.create_task_group() as tg:
        await tg.start(policy.run)
        decision = policy.on_submit(session, part)
        assert isinstance(decision, Respond) and decision.pdu.command_status == CommandStatus.ESME_ROK
        assert len(policy.held) == 1
        assert policy.next_deadline() == clock.now + FLUSH_DELAY  # the counter first
        await policy.flush()
        assert policy.next_deadline() == clock.now + 5.0
        clock.now += 5.0
        await policy.handle_timer(clock.now)  # given up on: sent as it came
        assert len(policy.held) == 0
        await anyio.wait_all_tasks_blocked()
        assert [p.short_message for p in session.sent] == [part.short_message]
        tg.cancel_scope.cancel()


async def test_the_timer_sleeps_until_woken_by_an_earlier_deadline(tmp_path: Path) -> None:
    config = make_config(tmp_path, 1)
    store = MemoryStore()
    await store.open()
    policy = OptoutPolicy(config, store, SuppressionIndex(), Metrics())
    session = Session(config.accounts["acme"])
    calls = 0
    handle_timer = policy.handle_timer

    async def counted(now: float) -> None:
        nonlocal calls
        calls += 1
        await handle_timer(now)

    policy.handle_timer = counted  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        await tg.start(policy.run)
        await anyio.sleep(0.5)
        assert calls == 0  # nothing was due (it used to wake every 200 ms)
        with anyio.fail_after(2.0):
            policy.on_submit(session, SubmitSm(destination_addr="447700900999", short_message=b"Sale"))
            while not await policy.store.sent_counts():
                await anyio.sleep(0.02)
        assert calls == 1  # woken to sleep until the batch is due, then run once
        tg.cancel_scope.cancel()
