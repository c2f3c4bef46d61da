"""Webhook delivery against a real local HTTP receiver that fails, times out and recovers (issue 16)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path

import anyio
import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gateway.config.integrations import WebhookConfig
from gateway.ops.webhooks import SIGNATURE_HEADER, WebhookDelivery, WebhookMetrics, sign, verify
from gateway.store import Channel, Event, EventType, SQLiteStore

pytestmark = pytest.mark.anyio

A = "+447700900401"
B = "+447700900402"


class Receiver:
    """Records every request; ``plan`` says what the next answers are (status, or "sleep")."""

    def __init__(self, plan: list[int | str] | None = None) -> None:
        self.plan = list(plan or [])
        self.bodies: list[dict[str, object]] = []
        self.headers: list[str] = []
        self.raw: list[bytes] = []
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        with self.lock:
            step = self.plan.pop(0) if self.plan else 200
            self.raw.append(request.get_data())
            self.bodies.append(json.loads(request.get_data()))
            self.headers.append(request.headers.get(SIGNATURE_HEADER, ""))
        if step == "sleep":
            time.sleep(1.0)
            return Response("late", status=200)
        assert isinstance(step, int)
        return Response("", status=step)


def hook(url: str, **overrides: object) -> WebhookConfig:
    options: dict[str, object] = dict(
        name="crm",
        url=url,
        events=("opt_out", "opt_in"),
        secret="s3cret",
        timeout=0.3,
        retry_min=0.05,
        retry_max=0.2,
        retry_for=60.0,
    )
    options.update(overrides)
    return WebhookConfig(**options)  # type: ignore[arg-type]


def stop(number: str, keyword: str = "STOP") -> Event:
    return Event(
        type=EventType.OPT_OUT,
        number=number,
        scope="acme",
        channel=Channel.SMS,
        keyword=keyword,
        account="esme1",
        campaign="spring",
    )


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    async with SQLiteStore(tmp_path / "s.db") as s:
        yield s


async def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    with anyio.fail_after(seconds):
        while not condition():
            await anyio.sleep(0.02)


def test_signature_round_trip_and_rotation() -> None:
    body = b'{"id":1}'
    header = sign(["new", "old"], body, 1_700_000_000)
    assert header.startswith("t=1700000000,v1=") and header.count("v1=") == 2
    assert verify(header, body, "new", now=1_700_000_010)
    assert verify(header, body, "old", now=1_700_000_010)
    assert not verify(header, body, "other", now=1_700_000_010)
    assert not verify(header, body + b" ", "new", now=1_700_000_010)
    assert not verify(header, body, "new", now=1_700_000_000 + 301)  # too old: a replay


async def run_until(delivery: WebhookDelivery, condition: Callable[[], bool]) -> None:
    async with anyio.create_task_group() as tg:
        tg.start_soon(delivery.run)
        await wait_for(condition)
        tg.cancel_scope.cancel()


async def test_fails_times_out_recovers_in_order(httpserver: HTTPServer, store: SQLiteStore) -> None:
    receiver = Receiver([500, "sleep", 503])
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    await store.opt_out(stop(A))
    await store.append_events(
        [Event(type=EventType.HELP, number=A, scope="acme", channel=Channel.SMS)]  # not subscribed
    )
    await store.opt_out(stop(B, "UNSUBSCRIBE"))
    metrics = WebhookMetrics()
    async with httpx.AsyncClient() as client:
        delivery = WebhookDelivery(
            hook(httpserver.url_for("/hook")), store, client, metrics, poll_interval=0.05
        )
        await run_until(delivery, lambda: metrics.cursor.labels("crm")._value.get() == 3)
    # The first event was tried four times (500, timeout, 503, ok), always with the same id.
    assert [b["id"] for b in receiver.bodies] == [1, 1, 1, 1, 3]
    first = receiver.bodies[0]
    assert first == {
        "id": 1,
        "type": "opt_out",
        "time": first["time"],
        "number": A,
        "scope": "acme",
        "account": "esme1",
        "channel": "sms",
        "keyword": "STOP",
        "campaign": "spring",
    }
    assert receiver.bodies[-1]["keyword"] == "UNSUBSCRIBE"
    for raw, header in zip(receiver.raw, receiver.headers, strict=True):
        assert verify(header, raw, "s3cret", now=time.time())
    state = await store.webhook_state("crm")
    assert (state.cursor, state.dead_letters, state.last_error) == (3, 0, None)
    assert metrics.attempts.labels("crm", "failed")._value.get() == 3


async def test_dead_letter_after_retry_period_then_moves_on(
    httpserver: HTTPServer, store: SQLiteStore
) -> None:
    receiver = Receiver([500] * 1000)
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    await store.opt_out(stop(A))
    metrics = WebhookMetrics()
    async with httpx.AsyncClient() as client:
        delivery = WebhookDelivery(
            hook(httpserver.url_for("/hook"), retry_for=0.4), store, client, metrics, poll_interval=0.05
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(delivery.run)
            await wait_for(lambda: metrics.dead_letters.labels("crm")._value.get() == 1)
            receiver.plan.clear()  # the receiver recovers
            await store.opt_out(stop(B))
            await wait_for(lambda: metrics.cursor.labels("crm")._value.get() == 2)
            tg.cancel_scope.cancel()
    [dead] = await store.dead_letters("crm")
    assert (dead.event_id, dead.error) == (1, "HTTP 500")
    state = await store.webhook_state("crm")
    assert (state.cursor, state.dead_letters) == (2, 1)


async def test_replay_since_redelivers_same_ids(httpserver: HTTPServer, store: SQLiteStore) -> None:
    receiver = Receiver()
    httpserver.expect_request("/hook").respond_with_handler(receiver)
    await store.opt_out(stop(A))
    await store.opt_out(stop(B))
    async with httpx.AsyncClient() as client:
        delivery = WebhookDelivery(
            hook(httpserver.url_for("/hook")), store, client, WebhookMetrics(), poll_interval=0.05
        )
        await run_until(delivery, lambda: len(receiver.bodies) == 2)
        await store.set_webhook_cursor("crm", 0)  # what `stopgate webhooks replay --since` does
        await run_until(delivery, lambda: len(receiver.bodies) == 4)
    assert [b["id"] for b in receiver.bodies] == [1, 2, 1, 2]


def test_body_time_is_utc() -> None:
    # The body's time is UTC with a Z, whatever the event was created with.
    from gateway.ops.webhooks import event_body

    event = Event(
        type=EventType.OPT_OUT,
        number=A,
        scope="acme",
        channel=Channel.SMS,
        id=7,
        ts=datetime(2024, 5, 1, 12, tzinfo=UTC),
    )
    assert json.loads(event_body(event))["time"] == "2024-05-01T12:00:00Z"
