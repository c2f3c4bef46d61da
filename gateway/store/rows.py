"""Model objects <-> the column values a SQL backend stores, independent of the SQL dialect.

The SQLite store uses these today and a PostgreSQL store can reuse them: timestamps are stored as
integer microseconds since the Unix epoch (exact, sortable, the same in every database), message ids
as a JSON list, enums as their string values. The column tuples fix the order the conversions use.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from gateway.store.model import Channel, Event, EventType, Suppression, as_utc

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
