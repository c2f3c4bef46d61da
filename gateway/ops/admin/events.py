"""``GET /v1/events``: the audit log, oldest first, filtered and paged by event id."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import ApiError, encode_cursor, event_cursor, query_limit, query_time
from gateway.ops.admin.routes import Operation, Param, Reply
from gateway.ops.admin.schemas import (
    CURSOR,
    EVENT,
    EVENT_TYPES,
    LIMIT,
    NUMBER_INPUT,
    SCOPE_INPUT,
    TIME_INPUT,
    page_of,
)
from gateway.ops.records import event_record
from gateway.store import EventType


def _types(values: list[str]) -> list[EventType] | None:
    """``?type=`` repeated or comma-separated, or None for every type."""
    names = [t for value in values for t in value.split(",") if t.strip()]
    if not names:
        return None
    types = []
    for name in names:
        try:
            types.append(EventType(name.strip().lower()))
        except ValueError:
            known = ", ".join(t.value for t in EventType)
            raise ApiError(400, f"unknown event type {name!r} (known: {known})") from None
    return types


async def list_events(context: AdminContext, request: Request) -> Response:
    query = request.query_params
    since = query_time(request, "since")
    until = query_time(request, "until")
    number = context.number(query["number"]) if "number" in query else None
    scope = context.scope(query.get("scope"), required=False)
    types = _types(query.getlist("type"))
    after_id = event_cursor(query.get("cursor"))
    limit = query_limit(request)
    page = await context.store.events(
        since=since,
        until=until,
        number=number,
        types=types,
        scope=scope,
        after_id=after_id,
        limit=limit + 1,
    )
    more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_cursor(page[-1].id) if more else None
    return JSONResponse({"items": [event_record(e) for e in page], "next_cursor": next_cursor})


LIST_EVENTS = Operation(
    handler=list_events,
    summary="The audit log, oldest first",
    access=Access.TOKEN,
    parameters=(
        Param(
            name="since",
            where="query",
            description="ISO 8601; events at or after (UTC if no zone).",
            schema=TIME_INPUT,
        ),
        Param(name="until", where="query", description="ISO 8601; events before.", schema=TIME_INPUT),
        Param(name="number", where="query", description="Only this number.", schema=NUMBER_INPUT),
        Param(name="scope", where="query", description="Only this scope.", schema=SCOPE_INPUT),
        Param(
            name="type",
            where="query",
            description="Only these types (repeat or comma-separate).",
            schema={"type": "array", "items": {"type": "string", "enum": EVENT_TYPES}},
            extra={"style": "form", "explode": True},
        ),
        LIMIT,
        CURSOR,
    ),
    replies={200: Reply("One page", page_of("EventPage", EVENT))},
    errors=(400, 503),
)
