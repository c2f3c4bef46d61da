"""Where each event on a number's timeline stands with each configured webhook that wants it.

Derived from what delivery already keeps in the store, with no table of its own: a webhook's cursor
is the id of the last event it delivered or gave up on (events go out in log order), and its dead
letters name the events given up on. So for an event the webhook subscribes to:

- past the cursor: *pending* (not sent yet, or being retried);
- at or before it and among the dead letters: *dead-lettered*;
- at or before it otherwise: *delivered*.

Dead letters are read newest first, :data:`FIRST_READ` of them and then, if the page's events are
older, up to :data:`DEAD_LETTER_SCAN` per webhook; an event older than the oldest one read cannot be
told apart and shows as *delivered or dead-lettered* (only a webhook with that many failures since
has this). A replay (``stopgate webhooks replay``)
moves a cursor back, so its events show as pending again until they go out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from gateway.config.integrations import WebhookConfig
from gateway.store import Event, Store

#: Dead letters read per webhook and page: the newest ones, which the events on a page usually are.
DEAD_LETTER_SCAN = 2000
#: The first read; the rest only when the page reaches back further.
FIRST_READ = 100


class Delivery(StrEnum):
    DELIVERED = "delivered"
    PENDING = "pending"
    DEAD = "dead-lettered"
    #: At or before the cursor, older than the dead letters read.
    SETTLED = "delivered or dead-lettered"


@dataclass(frozen=True, slots=True)
class Mark:
    """One webhook's state for one event, as the lookup page shows it (``crm delivered``)."""

    webhook: str
    state: Delivery


@dataclass(frozen=True, slots=True)
class _Hook:
    name: str
    events: frozenset[str]
    cursor: int
    dead: frozenset[int]
    #: Events from this id on are certain: every dead letter at or after it was read.
    known_from: int

    def mark(self, event: Event) -> Mark | None:
        if event.type.value not in self.events or event.id is None:
            return None
        if event.id > self.cursor:
            return Mark(self.name, Delivery.PENDING)
        if event.id in self.dead:
            return Mark(self.name, Delivery.DEAD)
        if event.id < self.known_from:
            return Mark(self.name, Delivery.SETTLED)
        return Mark(self.name, Delivery.DELIVERED)


async def _hook(store: Store, hook: WebhookConfig, events: Sequence[Event]) -> _Hook:
    state = await store.webhook_state(hook.name)
    wanted = frozenset(hook.events)
    settled = [e.id for e in events if e.id is not None and e.id <= state.cursor and e.type.value in wanted]
    dead: frozenset[int] = frozenset()
    known_from = 0
    if settled and state.dead_letters > 0:
        # A few first: usually enough to reach back past the page's oldest event.
        reads = (min(FIRST_READ, DEAD_LETTER_SCAN), DEAD_LETTER_SCAN)
        for limit in dict.fromkeys(min(state.dead_letters, n) for n in reads):
            letters = await store.dead_letters(hook.name, limit)  # oldest first
            complete = len(letters) < limit or limit == state.dead_letters
            if complete or letters[0].event_id <= min(settled):
                break
        dead = frozenset(d.event_id for d in letters)
        known_from = 0 if complete else letters[0].event_id
    return _Hook(hook.name, wanted, state.cursor, dead, known_from)


async def webhook_marks(
    store: Store, hooks: Sequence[WebhookConfig], *pages: Sequence[Event]
) -> dict[int, list[Mark]]:
    """Each event id on ``pages`` to its marks, one per webhook that subscribes to its type."""
    events = [e for page in pages for e in page]
    marks: dict[int, list[Mark]] = {}
    for hook in hooks:
        if not any(e.type.value in hook.events for e in events):
            continue
        state = await _hook(store, hook, events)
        for event in events:
            mark = state.mark(event)
            if mark is not None and event.id is not None:
                marks.setdefault(event.id, []).append(mark)
    return marks
