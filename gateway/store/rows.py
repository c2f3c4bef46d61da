"""Model objects <-> the column values a SQL backend stores, independent of the SQL dialect.

Both SQL backends use these: timestamps are stored as integer microseconds since the Unix epoch
(exact, sortable, the same in every database), message ids and consent evidence as JSON, enums as
their string values. The column tuples fix the order the conversions use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store.model import (
    Channel,
    Consent,
    DeadLetter,
    Event,
    EventType,
    Suppression,
    WebhookState,
    WebToken,
    as_utc,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)

#: The columns :func:`event_from_row` reads, in its order.
EVENT_COLUMNS = (
    "id, ts, type, scope, number, channel, account, keyword, text, message_ids, reason, campaign, operator,"
    " address, received_at"
)
#: The columns :func:`event_values` fills, in its order (``suppressed`` marks feed entries).
EVENT_INSERT_COLUMNS = (
    "ts, type, scope, number, channel, account, keyword, text, message_ids, reason, campaign,"
    " operator, address, received_at, suppressed"
)
#: The columns of a suppression row, in the order of :class:`Suppression`'s fields.
SUPPRESSION_COLUMNS = "scope, number, since, channel, keyword, reason, event_id"
#: The columns :func:`consent_values` fills, in its order (the id is the database's).
CONSENT_INSERT_COLUMNS = "ts, scope, number, source, wording, evidence, account, ended"
#: The columns :func:`consent_from_row` reads, in its order.
CONSENT_COLUMNS = f"id, {CONSENT_INSERT_COLUMNS}"
#: The columns of a webhook cursor row, in the order of :class:`WebhookState`'s fields.
WEBHOOK_STATE_COLUMNS = "name, cursor, dead_letters, last_error, updated"
#: The columns of a dead letter row, in the order of :class:`DeadLetter`'s fields.
DEAD_LETTER_COLUMNS = "webhook, event_id, ts, error"
#: The columns of a web token row, in the order of :class:`WebToken`'s fields.
WEB_TOKEN_COLUMNS = "token, scope, number, account, campaign, expires"


def to_micros(ts: datetime) -> int:
    """Aware datetime -> integer microseconds since the Unix epoch (the stored form)."""
    return (as_utc(ts) - _EPOCH) // _MICROSECOND


def from_micros(us: int) -> datetime:
    """The inverse of :func:`to_micros`."""
    return _EPOCH + timedelta(microseconds=us)


def event_values(event: Event, suppressed: int | None) -> tuple[Any, ...]:
    """The values of :data:`EVENT_INSERT_COLUMNS` for ``event``.

    ``suppressed`` is 1 or 0 when the event changed the number's state (a change feed entry), None
    when it did not.
    """
    return (
        to_micros(event.ts),
        event.type.value,
        event.scope,
        event.number,
        event.channel.value,
        event.account,
        event.keyword,
        event.text,
        json.dumps(list(event.message_ids)) if event.message_ids else None,
        event.reason,
        event.campaign,
        event.operator,
        event.address,
        None if event.received_at is None else to_micros(event.received_at),
        suppressed,
    )


def suppression_values(event: Event, event_id: int | None) -> tuple[Any, ...]:
    """The values of :data:`SUPPRESSION_COLUMNS` for the suppression ``event`` (id ``event_id``) makes."""
    return (
        event.scope,
        event.number,
        to_micros(event.ts),
        event.channel.value,
        event.keyword,
        event.reason,
        event_id,
    )


def event_from_row(row: Sequence[Any]) -> Event:
    """An :class:`Event` from the values of :data:`EVENT_COLUMNS`."""
    (
        id_,
        ts,
        type_,
        scope,
        number,
        channel,
        account,
        keyword,
        text,
        message_ids,
        reason,
        campaign,
        operator,
        address,
        received_at,
    ) = row
    return Event(
        id=id_,
        ts=from_micros(ts),
        type=EventType(type_),
        scope=scope,
        number=number,
        channel=Channel(channel),
        account=account,
        keyword=keyword,
        text=text,
        message_ids=tuple(json.loads(message_ids)) if message_ids else (),
        reason=reason,
        campaign=campaign,
        operator=operator,
        address=address,
        received_at=None if received_at is None else from_micros(received_at),
    )


def suppression_from_row(row: Sequence[Any]) -> Suppression:
    """A :class:`Suppression` from the values of :data:`SUPPRESSION_COLUMNS`."""
    scope, number, since, channel, keyword, reason, event_id = row
    return Suppression(scope, number, from_micros(since), channel, keyword, reason, event_id)


def consent_values(consent: Consent) -> tuple[Any, ...]:
    """The values of :data:`CONSENT_INSERT_COLUMNS` for ``consent``."""
    return (
        to_micros(consent.ts),
        consent.scope,
        consent.number,
        consent.source,
        consent.wording,
        json.dumps(consent.evidence, sort_keys=True) if consent.evidence else None,
        consent.account,
        None if consent.ended is None else to_micros(consent.ended),
    )


def consent_from_row(row: Sequence[Any]) -> Consent:
    """A :class:`Consent` from the values of :data:`CONSENT_COLUMNS`."""
    id_, ts, scope, number, source, wording, evidence, account, ended = row
    return Consent(
        id=id_,
        ts=from_micros(ts),
        scope=scope,
        number=number,
        source=source,
        wording=wording,
        evidence=json.loads(evidence) if evidence else {},
        account=account,
        ended=None if ended is None else from_micros(ended),
    )


def webhook_state_from_row(row: Sequence[Any]) -> WebhookState:
    """A :class:`WebhookState` from the values of :data:`WEBHOOK_STATE_COLUMNS`."""
    name, cursor, dead, error, updated = row
    return WebhookState(
        name=name, cursor=cursor, dead_letters=dead, last_error=error, updated=from_micros(updated)
    )


def dead_letter_from_row(row: Sequence[Any]) -> DeadLetter:
    """A :class:`DeadLetter` from the values of :data:`DEAD_LETTER_COLUMNS`."""
    webhook, event_id, ts, error = row
    return DeadLetter(webhook=webhook, event_id=event_id, ts=from_micros(ts), error=error)


def web_token_values(token: WebToken) -> tuple[Any, ...]:
    """The values of :data:`WEB_TOKEN_COLUMNS` for ``token``."""
    return (token.token, token.scope, token.number, token.account, token.campaign, to_micros(token.expires))


def web_token_from_row(row: Sequence[Any]) -> WebToken:
    """A :class:`WebToken` from the values of :data:`WEB_TOKEN_COLUMNS`."""
    token, scope, number, account, campaign, expires = row
    return WebToken(
        token=token,
        scope=scope,
        number=number,
        account=account,
        campaign=campaign,
        expires=from_micros(expires),
    )
