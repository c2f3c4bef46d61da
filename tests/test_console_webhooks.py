"""The number lookup's "Webhooks" column (issue 17): per event and per configured webhook that wants
its type, delivered / pending / dead-lettered, derived from the store's cursors and dead letters."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.config.integrations import WebhookConfig
from gateway.metrics import Metrics
from gateway.ops.admin import AdminContext, AdminServer
from gateway.ops.console.deliveries import Delivery, Mark, webhook_marks
from gateway.store import (
    ChangeFollower,
    Channel,
    DeadLetter,
    Event,
    EventType,
    MemoryStore,
    SQLiteStore,
    Store,
    SuppressionIndex,
)
from tests.stack import make_config
from tests.test_console import TOKENS

pytestmark = pytest.mark.anyio

NUMBER = "+447700900401"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
CRM = {"name": "crm", "url": "http://127.0.0.1:9/crm", "secret": "k", "events": ["opt_out", "opt_in"]}
LEDGER = {"name": "ledger", "url": "http://127.0.0.1:9/l", "secret": "k", "events": ["opt_out", "blocked"]}


def _event(kind: EventType, minutes: int) -> Event:
    return Event(
        type=kind, number=NUMBER, scope="acme", channel=Channel.SMS, ts=T0 + timedelta(minutes=minutes)
    )


async def _seeded(store: Store | None = None) -> tuple[Store, list[Event]]:
    """opt-out (1), blocked (2), opt-in (3), opt-out (4); crm is past them all; ledger dead-lettered the
    first opt-out, delivered the blocked message, and has not reached the second opt-out yet."""
    if store is None:
        store = MemoryStore()
        await store.open()
    await store.opt_out(_event(EventType.OPT_OUT, 0))
    await store.append_events([_event(EventType.BLOCKED, 1)])
    await store.opt_in(_event(EventType.OPT_IN, 2))
    await store.opt_out(_event(EventType.OPT_OUT, 3))
    events = await store.events(number=NUMBER)
    ids = [e.id for e in events]
    assert ids == [1, 2, 3, 4]
    assert await store.advance_webhook("crm", 0, 4)
    first = events[0]
    dead = DeadLetter(webhook="ledger", event_id=1, ts=first.ts, error="HTTP 500")
    assert await store.advance_webhook("ledger", 0, 1, dead)
    assert await store.advance_webhook("ledger", 1, 3)
    return store, events


@pytest.fixture(params=["memory", "sqlite"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    """The derivation reads only the store's interface: the same answers from both backends."""
    backend: Store = MemoryStore() if request.param == "memory" else SQLiteStore(tmp_path / "w.db")
    async with backend:
        yield backend


async def test_marks_per_event_and_per_subscribed_webhook(store: Store) -> None:
    store, events = await _seeded(store)
    hooks = [
        WebhookConfig(name="crm", url="u", events=("opt_out", "opt_in")),
        WebhookConfig(name="ledger", url="u", events=("opt_out", "blocked")),
    ]
    marks = await webhook_marks(store, hooks, events)
    assert marks == {
        1: [Mark("crm", Delivery.DELIVERED), Mark("ledger", Delivery.DEAD)],
        2: [Mark("ledger", Delivery.DELIVERED)],  # crm does not want blocked messages
        3: [Mark("crm", Delivery.DELIVERED)],  # ledger does not want opt-ins
        4: [Mark("crm", Delivery.DELIVERED), Mark("ledger", Delivery.PENDING)],
    }
    # A webhook the store has never seen has delivered nothing yet.
    fresh = await webhook_marks(store, [WebhookConfig(name="new", url="u", events=("opt_in",))], events)
    assert fresh == {3: [Mark("new", Delivery.PENDING)]}


async def test_older_than_the_dead_letters_read_is_not_called_delivered(
    store: Store, monkeypatch: Any
) -> None:
    store, events = await _seeded(store)
    # ledger gave up on event 2 as well: with only the newest dead letter read, event 1 is uncertain.
    await store.set_webhook_cursor("ledger", 1)
    second = DeadLetter(webhook="ledger", event_id=2, ts=events[1].ts, error="HTTP 500")
    assert await store.advance_webhook("ledger", 1, 2, second)
    hooks = [WebhookConfig(name="ledger", url="u", events=("opt_out", "blocked"))]
    # Reading one first, then more: the second read reaches event 1.
    monkeypatch.setattr("gateway.ops.console.deliveries.FIRST_READ", 1)
    marks = await webhook_marks(store, hooks, events)
    assert marks[1] == [Mark("ledger", Delivery.DEAD)] and marks[2] == [Mark("ledger", Delivery.DEAD)]
    monkeypatch.setattr("gateway.ops.console.deliveries.DEAD_LETTER_SCAN", 1)
    marks = await webhook_marks(store, hooks, events)
    assert marks[1] == [Mark("ledger", Delivery.SETTLED)]
    assert marks[2] == [Mark("ledger", Delivery.DEAD)]
    assert marks[4] == [Mark("ledger", Delivery.PENDING)]
    # Only the page's own events count: a page of event 2 alone is certain from the first read.
    assert await webhook_marks(store, hooks, events[1:2]) == {2: [Mark("ledger", Delivery.DEAD)]}


def _column(html: str, section: str) -> list[str]:
    """The Webhooks cell of each row of one section's table, as text a screen reader reads."""
    part = html.split(f'aria-labelledby="{section}"')[1].split("</section>")[0]
    cells = re.findall(r'<td data-label="Webhooks" class="webhooks">(.*?)</td>', part, re.DOTALL)
    text = [re.sub(r'<span aria-hidden="true">[^<]*</span>', "", c) for c in cells]
    return [" ".join(re.sub(r"<[^>]+>", " ", c).split()) for c in text]


async def _lookup(tmp_path: Path, store: Store, override: dict[str, Any]) -> httpx.Response:
    """Sign in as the viewer and look the number up by its national spelling."""
    config = make_config(tmp_path, 2775, {**TOKENS, **override})
    context = AdminContext(
        store=store,
        feed=ChangeFollower(store, SuppressionIndex(), after_id=0),
        metrics=Metrics(),
        config=lambda: config,
        readiness=lambda: (True, {"checks": {}, "reasons": []}),
    )
    server = AdminServer(context)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=server.asgi), base_url="http://a") as c:
        form = await c.get("/ui/sign-in")
        csrf = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert csrf is not None
        signed = await c.post("/ui/sign-in", data={"csrf": csrf.group(1), "token": "victor-token"})
        assert signed.status_code == 303
        return await c.get("/ui/numbers", params={"number": "07700 900401"})


async def test_the_lookup_page_shows_the_webhooks_column(tmp_path: Path) -> None:
    store, _ = await _seeded()
    page = await _lookup(tmp_path, store, {"webhook": [CRM, LEDGER]})
    assert page.status_code == 200
    html = page.text
    assert '<th scope="col">Webhooks</th>' in html
    # History in log order: opt-out, opt-in, opt-out.
    assert _column(html, "history") == [
        "crm delivered ledger dead-lettered",
        "crm delivered",
        "crm delivered ledger pending",
    ]
    assert _column(html, "blocked") == ["ledger delivered"]
    assert '<li class="mark dead">ledger <span class="state">dead-lettered</span></li>' in html
    # The symbol is hidden from screen readers, which read the word instead.
    delivered = '<span aria-hidden="true">✓</span> <span class="sr">delivered</span>'
    assert f'crm <span class="state">{delivered}</span>' in html


async def test_without_webhooks_there_is_no_column(tmp_path: Path) -> None:
    store, _ = await _seeded()
    page = await _lookup(tmp_path, store, {})
    assert page.status_code == 200 and "opt out" in page.text
    assert "Webhooks" not in page.text and 'class="webhooks"' not in page.text
