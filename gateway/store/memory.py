"""In-memory :class:`Store` for unit tests: same semantics as the SQLite backend, no durability.

Set ``store.fail = True`` to make every write (and :meth:`check_writable`) raise
:class:`StoreError`, as a full disk or a read-only remount would.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime

from anyio.lowlevel import checkpoint

from gateway.store.base import Store
from gateway.store.checks import (
    check_limit,
    check_stateless,
    check_suppressing,
    check_unsuppressing,
)
from gateway.store.memory_guards import MemoryGuards
from gateway.store.model import (
    REDACTED,
    Change,
    Channel,
    Consent,
    DeadLetter,
    Event,
    EventType,
    StoreClosedError,
    StoreError,
    Suppression,
    WebhookState,
    WebToken,
    as_utc,
    utcnow,
)
from gateway.store.selfservice import consent_event

Key = tuple[str, str]


class MemoryStore(MemoryGuards, Store):
    """Dicts and lists; data survives ``close()`` / ``open()`` of the same instance."""

    def __init__(self) -> None:
        #: When True, every write raises :class:`StoreError` (fault injection).
        self.fail = False
        self._open = False
        self._events: list[Event] = []  # self._events[i].id == i + 1
        self._suppressions: dict[Key, Suppression] = {}
        self._keys: list[Key] = []  # sorted keys of self._suppressions
        self._changes: list[Change] = []
        self._change_ids: list[int] = []
        self._sent: dict[tuple[str, str, str], int] = {}
        self._last: dict[Key, tuple[str, datetime]] = {}
        self._consents: list[Consent] = []
        self._webhooks: dict[str, WebhookState] = {}
        self._dead: list[DeadLetter] = []
        self._tokens: dict[str, WebToken] = {}
        self._receipt_routes: dict[tuple[str, str], tuple[str, str, datetime]] = {}
        self._footers_sent: dict[tuple[str, str], datetime] = {}
        self._confirmations_sent: dict[tuple[str, str, str], datetime] = {}

    # -- lifecycle -----------------------------------------------------------------------------

    async def open(self) -> None:
        self._open = True

    async def close(self) -> None:
        self._open = False

    async def _read(self) -> None:
        await checkpoint()
        if not self._open:
            raise StoreClosedError("store is not open")

    async def _write(self) -> None:
        await self._read()
        if self.fail:
            raise StoreError("simulated store failure (MemoryStore.fail is set)")

    # -- state changes -------------------------------------------------------------------------

    def _append(self, event: Event, suppressed: bool | None) -> Event:
        stored = dataclasses.replace(event, id=len(self._events) + 1)
        self._events.append(stored)
        if suppressed is not None:
            assert stored.id is not None
            self._changes.append(Change(stored.id, stored.scope, stored.number, suppressed))
            self._change_ids.append(stored.id)
        return stored

    def _suppress(self, key: Key, event: Event) -> None:
        assert event.id is not None
        self._suppressions[key] = Suppression(
            scope=event.scope,
            number=event.number,
            since=event.ts,
            channel=event.channel.value,
            keyword=event.keyword,
            reason=event.reason,
            event_id=event.id,
        )
        bisect.insort(self._keys, key)

    async def opt_out(self, event: Event) -> bool:
        check_suppressing(event)
        await self._write()
        key = (event.scope, event.number)
        self._end_consents(key, event.ts)
        if key in self._suppressions:
            self._append(event, None)
            return False
        self._suppress(key, self._append(event, True))
        return True

    async def opt_in(self, event: Event) -> bool:
        check_unsuppressing(event)
        await self._write()
        key = (event.scope, event.number)
        if key not in self._suppressions:
            self._append(event, None)
            return False
        self._append(event, False)
        del self._suppressions[key]
        del self._keys[bisect.bisect_left(self._keys, key)]
        return True

    async def append_events(self, events: Sequence[Event]) -> None:
        check_stateless(events)
        await self._write()
        for event in events:
            self._append(event, None)

    async def import_suppressions(
        self,
        rows: Iterable[tuple[str, str]],
        *,
        channel: Channel,
        reason: str | None,
        operator: str | None = None,
    ) -> int:
        await self._write()
        imported = {(scope, number) for scope, number in rows}
        new = sorted(imported - self._suppressions.keys())
        ts = utcnow()
        for key in imported:  # as an opt-out does, an import ends consent (issue 16)
            self._end_consents(key, ts)
        for scope, number in new:
            event = Event(
                type=EventType.IMPORT,
                number=number,
                scope=scope,
                channel=channel,
                operator=operator,
                reason=reason,
                ts=ts,
            )
            self._suppress((scope, number), self._append(event, True))
        return len(new)

    # -- suppressions --------------------------------------------------------------------------

    async def get_suppression(self, scope: str, number: str) -> Suppression | None:
        await self._read()
        return self._suppressions.get((scope, number))

    async def list_suppressions(
        self,
        scope: str | None = None,
        after: tuple[str, str] | None = None,
        limit: int = 100,
    ) -> list[Suppression]:
        check_limit(limit)
        await self._read()
        start = 0
        if after is not None:
            start = bisect.bisect_right(self._keys, (after[0], after[1]))
        if scope is not None:
            start = max(start, bisect.bisect_left(self._keys, (scope, "")))
        out: list[Suppression] = []
        for key in self._keys[start:]:
            if len(out) >= limit:
                break
            if scope is not None and key[0] != scope:
                if key[0] > scope:
                    break
                continue
            out.append(self._suppressions[key])
        return out

    async def load_suppressions(self, batch: int = 100_000) -> AsyncIterator[list[tuple[str, str]]]:
        check_limit(batch)
        await self._read()
        keys = list(self._keys)
        for start in range(0, len(keys), batch):
            yield keys[start : start + batch]

    # -- events --------------------------------------------------------------------------------

    async def events(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        number: str | None = None,
        types: Sequence[EventType] | None = None,
        scope: str | None = None,
        after_id: int = 0,
        limit: int | None = None,
    ) -> list[Event]:
        if limit is not None:
            check_limit(limit)
        await self._read()
        since = None if since is None else as_utc(since)
        until = None if until is None else as_utc(until)
        wanted = None if types is None else {EventType(t) for t in types}
        out: list[Event] = []
        for event in self._events[max(after_id, 0) :]:
            if limit is not None and len(out) >= limit:
                break
            if (
                (since is None or event.ts >= since)
                and (until is None or event.ts < until)
                and (number is None or event.number == number)
                and (wanted is None or event.type in wanted)
                and (scope is None or event.scope == scope)
            ):
                out.append(event)
        return out

    # -- change feed ---------------------------------------------------------------------------

    async def changes_since(self, after_id: int, limit: int = 10_000) -> list[Change]:
        check_limit(limit)
        await self._read()
        start = bisect.bisect_right(self._change_ids, after_id)
        return self._changes[start : start + limit]

    async def last_change_id(self) -> int:
        await self._read()
        return self._change_ids[-1] if self._change_ids else 0

    # -- report counters -----------------------------------------------------------------------

    async def add_sent_counts(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        await self._write()
        for key, count in counts.items():
            self._sent[key] = self._sent.get(key, 0) + count

    async def record_last_campaigns(self, rows: Sequence[tuple[str, str, str, datetime]]) -> None:
        await self._write()
        for scope, number, campaign, ts in rows:
            ts = as_utc(ts)
            current = self._last.get((scope, number))
            if current is None or ts >= current[1]:
                self._last[(scope, number)] = (campaign, ts)

    async def last_campaign(self, scope: str, number: str) -> str | None:
        await self._read()
        current = self._last.get((scope, number))
        return None if current is None else current[0]

    async def sent_counts(
        self, since_day: str | None = None, scope: str | None = None
    ) -> list[tuple[str, str, str, int]]:
        await self._read()
        return [
            (day, sc, campaign, count)
            for (day, sc, campaign), count in sorted(self._sent.items())
            if (since_day is None or day >= since_day) and (scope is None or sc == scope)
        ]

    # -- consent and erasure ------------------------------------------------------------------

    def _end_consents(self, key: Key, ts: datetime) -> None:
        for i, consent in enumerate(self._consents):
            if (consent.scope, consent.number) == key and consent.ended is None:
                self._consents[i] = dataclasses.replace(consent, ended=ts)

    async def add_consent(self, consent: Consent, *, channel: Channel) -> Consent:
        if consent.id is not None:
            raise ValueError(f"consent already has id {consent.id}; pass a new Consent")
        await self._write()
        stored = dataclasses.replace(consent, id=len(self._consents) + 1)
        self._consents.append(stored)
        self._append(consent_event(consent, channel), None)
        return stored

    async def consents(self, scope: str, number: str) -> list[Consent]:
        await self._read()
        return [c for c in self._consents if c.scope == scope and c.number == number]

    async def redact_number(self, number: str, *, operator: str | None, channel: Channel) -> int:
        await self._write()
        changed = 0
        scopes: set[str] = set()
        for i, event in enumerate(self._events):
            if event.number != number:
                continue
            scopes.add(event.scope)
            text = None if event.text is None else REDACTED
            reason = event.reason
            if reason is not None and event.type is not EventType.CONSENT:
                reason = REDACTED
            if (text, reason) != (event.text, event.reason):
                self._events[i] = dataclasses.replace(event, text=text, reason=reason)
                changed += 1
        for i, consent in enumerate(self._consents):
            if consent.number == number and consent.evidence:
                self._consents[i] = dataclasses.replace(consent, evidence={})
        for key, row in self._suppressions.items():
            if key[1] == number and row.reason is not None:
                self._suppressions[key] = dataclasses.replace(row, reason=REDACTED)
        now = utcnow()
        for scope in sorted(scopes):
            self._append(
                Event(
                    type=EventType.REDACTED,
                    number=number,
                    scope=scope,
                    channel=channel,
                    operator=operator,
                    ts=now,
                ),
                None,
            )
        return changed

    async def redact_texts_before(self, before: datetime) -> int:
        await self._write()
        before = as_utc(before)
        changed = 0
        for i, event in enumerate(self._events):
            if event.ts < before and event.text is not None and event.text != REDACTED:
                self._events[i] = dataclasses.replace(event, text=REDACTED)
                changed += 1
        return changed

    # -- webhook outbox ------------------------------------------------------------------------

    async def webhook_state(self, name: str) -> WebhookState:
        await self._read()
        return self._webhooks.get(name) or WebhookState(name=name)

    async def webhook_states(self) -> list[WebhookState]:
        await self._read()
        return [self._webhooks[name] for name in sorted(self._webhooks)]

    async def advance_webhook(
        self, name: str, expected: int, cursor: int, dead_letter: DeadLetter | None = None
    ) -> bool:
        await self._write()
        state = self._webhooks.get(name) or WebhookState(name=name)
        if state.cursor != expected:
            return False
        dead = state.dead_letters + (1 if dead_letter else 0)
        self._webhooks[name] = dataclasses.replace(state, cursor=cursor, dead_letters=dead, updated=utcnow())
        if dead_letter is not None:
            self._dead.append(dead_letter)
        return True

    async def set_webhook_cursor(self, name: str, cursor: int) -> None:
        await self._write()
        state = self._webhooks.get(name) or WebhookState(name=name)
        self._webhooks[name] = dataclasses.replace(state, cursor=cursor, updated=utcnow())

    async def note_webhook_error(self, name: str, error: str | None) -> None:
        await self._write()
        state = self._webhooks.get(name) or WebhookState(name=name)
        self._webhooks[name] = dataclasses.replace(state, last_error=error, updated=utcnow())

    async def dead_letters(self, name: str, limit: int = 100) -> list[DeadLetter]:
        check_limit(limit)
        await self._read()
        return [d for d in self._dead if d.webhook == name][-limit:]

    # -- web tokens ----------------------------------------------------------------------------

    async def add_web_tokens(self, tokens: Sequence[WebToken]) -> None:
        await self._write()
        for token in tokens:
            self._tokens.setdefault(token.token, token)

    async def web_token(self, token: str) -> WebToken | None:
        await self._read()
        return self._tokens.get(token)

    # -- health --------------------------------------------------------------------------------

    async def check_writable(self) -> None:
        await self._write()

    # -- receipt routes ------------------------------------------------------------------------

    async def record_receipt_routes(self, rows: Sequence[tuple[str, str, str, str, datetime]]) -> None:
        await self._write()
        for upstream, message_id, account, session, expires in rows:
            self._receipt_routes[(upstream, message_id)] = (account, session, as_utc(expires))

    async def receipt_route(self, upstream: str, message_id: str, now: datetime) -> tuple[str, str] | None:
        await self._read()
        row = self._receipt_routes.get((upstream, message_id))
        if row is None or row[2] <= as_utc(now):
            return None
        return row[0], row[1]

    async def purge_receipt_routes(self, now: datetime) -> int:
        await self._write()
        expired = [key for key, row in self._receipt_routes.items() if row[2] <= as_utc(now)]
        for key in expired:
            del self._receipt_routes[key]
        return len(expired)
