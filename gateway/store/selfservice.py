"""What the subscriber self-service features keep in the store (issue 16): consent records, the erasure
of personal fields from the event log, the webhook outbox's cursors and dead letters, and web opt-out
link tokens. Each is a small interface that :class:`~gateway.store.base.Store` includes.
"""

from __future__ import annotations

import abc
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from gateway.store.model import Channel, Consent, DeadLetter, Event, EventType, WebhookState, WebToken


def consent_event(consent: Consent, channel: Channel) -> Event:
    """The CONSENT event :meth:`ConsentRecords.add_consent` logs with ``consent``."""
    return Event(
        type=EventType.CONSENT,
        number=consent.number,
        scope=consent.scope,
        channel=channel,
        account=consent.account,
        text=consent.wording,
        reason=consent.source,
        ts=consent.ts,
    )


class ConsentRecords(Protocol):
    """Proof of consent to marketing, per (scope, number); an opt-out ends every live consent."""

    @abc.abstractmethod
    async def add_consent(self, consent: Consent, *, channel: Channel) -> Consent:
        """Store ``consent`` and log a CONSENT event (one transaction); the stored record, with its id."""

    @abc.abstractmethod
    async def consents(self, scope: str, number: str) -> list[Consent]:
        """Every consent of (scope, number), oldest first, ended ones included."""

    async def live_consent(self, scope: str, number: str) -> Consent | None:
        """The newest consent of (scope, number) that no opt-out has ended, or None."""
        live = [c for c in await self.consents(scope, number) if c.ended is None]
        return live[-1] if live else None


class Erasure(Protocol):
    """Erasure and retention: personal fields in the log replaced by :data:`REDACTED`, facts kept."""

    @abc.abstractmethod
    async def redact_number(self, number: str, *, operator: str | None, channel: Channel) -> int:
        """Redact the text and reason of every event about ``number`` and its consent evidence.

        The suppression and every event's type, time, scope and keyword stay. One REDACTED event
        per scope the number appears in records the erasure. Returns how many events were changed.
        """

    @abc.abstractmethod
    async def redact_texts_before(self, before: datetime) -> int:
        """Redact the MO text of every event older than ``before`` (retention); how many changed."""


class WebhookOutbox(Protocol):
    """A durable cursor per webhook over the event log, and its dead letters."""

    @abc.abstractmethod
    async def webhook_state(self, name: str) -> WebhookState:
        """Where delivery to ``name`` stands (cursor 0 for a webhook never seen)."""

    @abc.abstractmethod
    async def webhook_states(self) -> list[WebhookState]:
        """Every webhook the store has a cursor for, by name."""

    @abc.abstractmethod
    async def advance_webhook(
        self, name: str, expected: int, cursor: int, dead_letter: DeadLetter | None = None
    ) -> bool:
        """Move ``name``'s cursor from ``expected`` to ``cursor`` (recording ``dead_letter``).

        False, changing nothing, when the cursor is no longer ``expected`` (a replay moved it).
        """

    @abc.abstractmethod
    async def set_webhook_cursor(self, name: str, cursor: int) -> None:
        """Put ``name``'s cursor at ``cursor`` (a replay moves it back)."""

    @abc.abstractmethod
    async def note_webhook_error(self, name: str, error: str | None) -> None:
        """Remember the last delivery failure of ``name`` (None once a delivery succeeds)."""

    @abc.abstractmethod
    async def dead_letters(self, name: str, limit: int = 100) -> list[DeadLetter]:
        """The newest ``limit`` dead letters of ``name``, oldest first."""


class WebTokens(Protocol):
    """Opt-out link tokens, created in batches (the submit path hands them over in bulk)."""

    @abc.abstractmethod
    async def add_web_tokens(self, tokens: Sequence[WebToken]) -> None:
        """Store ``tokens`` in one transaction (a token already stored is left as it is)."""

    @abc.abstractmethod
    async def web_token(self, token: str) -> WebToken | None:
        """The stored token, expired or not, or None."""
