"""What several routes declare alike: the error body, the two records (``gateway/ops/records.py``),
pages of them and the paging parameters."""

from __future__ import annotations

from gateway.ops.admin.http import (
    DEFAULT_LIMIT,
    MAX_CURSOR,
    MAX_LIMIT,
    MAX_NUMBER,
    NUMBER_PATTERN,
    TIME_PATTERN,
)
from gateway.ops.admin.routes import Param, Schema
from gateway.store import EventType

EVENT_TYPES = [t.value for t in EventType]

#: A phone number as the server accepts it (checked by ``AdminContext.number`` with the same pattern).
NUMBER_INPUT = {"type": "string", "minLength": 1, "maxLength": MAX_NUMBER, "pattern": NUMBER_PATTERN}
#: A configured scope: ``openapi.py`` replaces this marker with the enum of the config in force.
SCOPE_INPUT = {"type": "string", "x-stopgate-scope": True}
#: ``?since=`` / ``?until=``: an ISO 8601 date or date-time as the server parses it (UTC if no zone).
TIME_INPUT = {
    "type": "string",
    "pattern": TIME_PATTERN,
    "description": "ISO 8601 date (2024-05-01) or date-time (2024-05-01T12:00:00Z); UTC if no zone.",
}

ERROR = Schema(
    "Error",
    {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
)

#: :func:`gateway.ops.records.suppression_record`.
SUPPRESSION = Schema(
    "Suppression",
    {
        "type": "object",
        "properties": {
            "number": {"type": "string", "example": "+447700900401"},
            "scope": {"type": "string"},
            "since": {"type": "string", "format": "date-time"},
            "channel": {"type": "string", "enum": ["sms", "api", "cli", "import"]},
            "keyword": {"type": ["string", "null"]},
            "reason": {"type": ["string", "null"]},
        },
    },
)

#: :func:`gateway.ops.records.event_record`.
EVENT = Schema(
    "Event",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "ts": {"type": "string", "format": "date-time"},
            "type": {"type": "string", "enum": EVENT_TYPES},
            "scope": {"type": "string"},
            "number": {"type": "string"},
            "channel": {"type": "string"},
            "account": {"type": ["string", "null"]},
            "keyword": {"type": ["string", "null"]},
            "text": {"type": ["string", "null"]},
            "message_ids": {"type": "array", "items": {"type": "string"}},
            "reason": {"type": ["string", "null"]},
            "campaign": {"type": ["string", "null"]},
            "operator": {
                "type": ["string", "null"],
                "description": "Who made a CLI, import or API change (login name, or api:tokenN).",
            },
            "address": {
                "type": ["string", "null"],
                "description": "The address the subscriber texted (the short code), on SMS events.",
            },
            "received_at": {
                "type": ["string", "null"],
                "format": "date-time",
                "description": "When the MO behind an SMS event arrived (null on other channels).",
            },
        },
    },
)


def page_of(name: str, item: Schema) -> Schema:
    """A page of a list route: ``items`` and the cursor of the next page (null on the last)."""
    return Schema(
        name,
        {
            "type": "object",
            "properties": {
                "items": {"type": "array", "items": item.ref},
                "next_cursor": {"type": ["string", "null"]},
            },
        },
        uses=(item,),
    )


LIMIT = Param(
    name="limit",
    where="query",
    description=f"Page size (1-{MAX_LIMIT}).",
    schema={"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
)
CURSOR = Param(
    name="cursor",
    where="query",
    description="next_cursor of the previous page.",
    schema={"type": "string", "minLength": 1, "maxLength": MAX_CURSOR},
)
