"""Plain-dict views of store rows and ISO 8601 handling, shared by the CLI exports and the admin API."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from gateway.store.model import Event, Suppression


def iso(ts: datetime) -> str:
    """``2024-05-01T12:00:00.123456Z``: UTC, lossless."""
    return ts.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_iso(text: str) -> datetime:
    """An ISO 8601 date or date-time as aware UTC; naive values are taken as UTC.

    Raises ValueError with a readable message.
    """
    raw = text.strip()
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        try:
            value = datetime.combine(date.fromisoformat(raw), time())
        except ValueError:
            raise ValueError(
                f"not an ISO 8601 date or date-time: {text!r} (e.g. 2024-05-01 or 2024-05-01T12:00Z)"
            ) from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
        raise ValueError(f"out of range once converted to UTC: {text!r}") from None


def suppression_record(s: Suppression) -> dict[str, Any]:
    return {
        "number": s.number,
        "scope": s.scope,
        "since": iso(s.since),
        "channel": s.channel,
        "keyword": s.keyword,
        "reason": s.reason,
    }


def event_record(e: Event) -> dict[str, Any]:
    return {
        "id": e.id,
        "ts": iso(e.ts),
        "type": e.type.value,
        "scope": e.scope,
        "number": e.number,
        "channel": e.channel.value,
        "account": e.account,
        "keyword": e.keyword,
        "text": e.text,
        "message_ids": list(e.message_ids),
        "reason": e.reason,
        "campaign": e.campaign,
        "operator": e.operator,
        "address": e.address,
        "received_at": None if e.received_at is None else iso(e.received_at),
    }


#: The columns of an exported suppression and event (CSV headers; JSONL keys are the same), in the
#: order of :func:`suppression_record` and :func:`event_record`.
SUPPRESSION_FIELDS = ("number", "scope", "since", "channel", "keyword", "reason")
EVENT_FIELDS = (
    "id",
    "ts",
    "type",
    "scope",
    "number",
    "channel",
    "account",
    "keyword",
    "text",
    "message_ids",
    "reason",
    "campaign",
    "operator",
    "address",
    "received_at",
)
