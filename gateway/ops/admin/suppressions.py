"""``/v1/suppressions``: list, add, look up and lift opt-outs.

A change is committed to the store (channel ``api``) and then applied to the in-memory index before
the response is sent, so the proxy blocks the number from the next submit on.
"""

from __future__ import annotations

from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import (
    BAD_CURSOR,
    MAX_REASON,
    ApiError,
    decode_cursor,
    encode_cursor,
    event_cursor,
    json_body,
    query_limit,
    string_field,
)
from gateway.ops.admin.routes import Operation, Param, Reply, Schema
from gateway.ops.admin.schemas import (
    CURSOR,
    EVENT,
    LIMIT,
    NUMBER_INPUT,
    SCOPE_INPUT,
    SUPPRESSION,
    page_of,
)
from gateway.ops.records import event_record, suppression_record
from gateway.store import Channel, Event, EventType

log = structlog.get_logger("stopgate.admin")

NEW_SUPPRESSION = Schema(
    "NewSuppression",
    {
        "type": "object",
        "required": ["number"],
        "additionalProperties": False,
        "properties": {
            "number": NUMBER_INPUT,
            "scope": {"anyOf": [SCOPE_INPUT, {"type": "null"}]},
            "reason": {"type": ["string", "null"], "maxLength": MAX_REASON},
        },
    },
)
SUPPRESSION_RESULT = Schema(
    "SuppressionResult",
    {
        "allOf": [
            SUPPRESSION.ref,
            {
                "type": "object",
                "properties": {"created": {"type": "boolean"}, "suppressed": {"type": "boolean"}},
            },
        ]
    },
    uses=(SUPPRESSION,),
)
SUPPRESSION_DETAIL = Schema(
    "SuppressionDetail",
    {
        "allOf": [
            SUPPRESSION.ref,
            {
                "type": "object",
                "properties": {
                    "suppressed": {"type": "boolean"},
                    "history": {
                        "type": "array",
                        "items": EVENT.ref,
                        "description": "Every event but the blocked messages, oldest first.",
                    },
                    "blocked": {
                        "type": "object",
                        "description": "Blocked messages, oldest first, a page at a time (limit, cursor).",
                        "properties": {
                            "items": {"type": "array", "items": EVENT.ref},
                            "next_cursor": {"type": ["string", "null"]},
                        },
                    },
                },
            },
        ]
    },
    uses=(SUPPRESSION, EVENT),
)
REASON_INPUT = {"type": "string", "minLength": 1, "maxLength": MAX_REASON, "pattern": r"\S"}
REASON = Schema(
    "Reason",
    {"type": "object", "properties": {"reason": {"anyOf": [REASON_INPUT, {"type": "null"}]}}},
)
REMOVAL_RESULT = Schema(
    "RemovalResult",
    {
        "type": "object",
        "properties": {
            "removed": {"type": "boolean"},
            "suppressed": {"type": "boolean"},
            "number": {"type": "string"},
            "scope": {"type": "string"},
        },
    },
)

NUMBER = Param(
    name="number",
    where="path",
    description="Phone number in any usual spelling (E.164 recommended, '+' may be %2B).",
    required=True,
    schema=NUMBER_INPUT,
)
SCOPE = Param(
    name="scope",
    where="query",
    description="Suppression scope; optional when a single scope is configured.",
    schema=SCOPE_INPUT,
)


# -- the commits (one function per action) --------------------------------------------------------


async def opt_out(
    context: AdminContext, *, scope: str, number: str, operator: str, reason: str | None
) -> bool:
    """Record an opt-out and apply it to the index; True if the number was not opted out before."""
    event = Event(
        type=EventType.ADMIN_ADD, number=number, scope=scope, channel=Channel.API, operator=operator,
        reason=reason,
    )
    return await context.changes().opt_out(event)


async def opt_in(context: AdminContext, *, scope: str, number: str, operator: str, reason: str) -> bool:
    """Lift an opt-out and apply it to the index; False if the number was not opted out."""
    event = Event(
        type=EventType.ADMIN_REMOVE, number=number, scope=scope, channel=Channel.API, operator=operator,
        reason=reason,
    )
    return await context.changes().opt_in(event)


# -- /v1/suppressions -----------------------------------------------------------------------------


def _after(cursor: str | None) -> tuple[str, str] | None:
    if cursor is None:
        return None
    value = decode_cursor(cursor)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise ApiError(400, BAD_CURSOR)
    return (value[0], value[1])


async def list_suppressions(context: AdminContext, request: Request) -> Response:
    scope = context.scope(request.query_params.get("scope"), required=False)
    limit = query_limit(request)
    after = _after(request.query_params.get("cursor"))
    page = await context.store.list_suppressions(scope, after, limit + 1)
    more = len(page) > limit
    page = page[:limit]
    next_cursor = encode_cursor([page[-1].scope, page[-1].number]) if more else None
    return JSONResponse({"items": [suppression_record(s) for s in page], "next_cursor": next_cursor})


LIST_SUPPRESSIONS = Operation(
    handler=list_suppressions,
    summary="List opted-out numbers, ordered by scope and number",
    access=Access.TOKEN,
    parameters=(
        Param(name="scope", where="query", description="Only this scope (default: all).", schema=SCOPE_INPUT),
        LIMIT,
        CURSOR,
    ),
    replies={200: Reply("One page", page_of("SuppressionPage", SUPPRESSION))},
    errors=(400, 503),
)


async def add_suppression(context: AdminContext, request: Request) -> Response:
    data = await json_body(request)
    unknown = sorted(set(data) - {"number", "scope", "reason"})
    if unknown:
        raise ApiError(400, f"unknown field(s): {', '.join(unknown)} (expected number, scope, reason)")
    text = string_field(data, "number", required=True)
    assert text is not None
    scope = context.scope(string_field(data, "scope"), required=True)
    assert scope is not None
    reason = string_field(data, "reason")
    number = context.number(text)
    operator = request.state.operator
    current = await context.store.get_suppression(scope, number)
    if current is not None:
        # Already opted out: nothing changes, so nothing is recorded (a retried POST is harmless).
        log.info("already opted out; nothing recorded", scope=scope, operator=operator)
        return JSONResponse({"created": False, "suppressed": True, **suppression_record(current)})
    new = await opt_out(context, scope=scope, number=number, operator=operator, reason=reason)
    log.info("opted out through the API", scope=scope, new=new, operator=operator)
    current = await context.store.get_suppression(scope, number)
    body: dict[str, Any] = {"created": new, "suppressed": True}
    if current is not None:
        body.update(suppression_record(current))
    else:  # removed concurrently
        body.update({"number": number, "scope": scope})
    return JSONResponse(body, status_code=201 if new else 200)


ADD_SUPPRESSION = Operation(
    handler=add_suppression,
    summary="Opt a number out (takes effect on the next submit)",
    access=Access.TOKEN,
    body=(NEW_SUPPRESSION, True),
    replies={
        201: Reply("Opted out", SUPPRESSION_RESULT),
        200: Reply("Already opted out (nothing recorded)", SUPPRESSION_RESULT),
    },
    errors=(400, 413, 503),
)


# -- /v1/suppressions/{number} --------------------------------------------------------------------


def _number_and_scope(context: AdminContext, request: Request) -> tuple[str, str]:
    number = context.number(request.path_params["number"])
    scope = context.scope(request.query_params.get("scope"), required=True)
    assert scope is not None
    return number, scope


#: Every event type but BLOCKED: what changed a number's state, or answered it (few per number).
HISTORY_TYPES = [t for t in EventType if t is not EventType.BLOCKED]


async def get_suppression(context: AdminContext, request: Request) -> Response:
    number, scope = _number_and_scope(context, request)
    limit = query_limit(request)
    after_id = event_cursor(request.query_params.get("cursor"))
    current = await context.store.get_suppression(scope, number)
    # Opt-out history first, whole; then the blocked messages, which can be any number, a page at a time.
    history = await context.store.events(scope=scope, number=number, types=HISTORY_TYPES)
    blocked = await context.store.events(
        scope=scope, number=number, types=[EventType.BLOCKED], after_id=after_id, limit=limit + 1
    )
    more = len(blocked) > limit
    blocked = blocked[:limit]
    detail: dict[str, Any] = {
        "history": [event_record(e) for e in history],
        "blocked": {
            "items": [event_record(e) for e in blocked],
            "next_cursor": encode_cursor(blocked[-1].id) if more else None,
        },
    }
    if current is None:
        raise ApiError(
            404,
            f"{number} is not opted out in scope {scope}",
            number=number,
            scope=scope,
            suppressed=False,
            **detail,
        )
    return JSONResponse({"suppressed": True, **suppression_record(current), **detail})


GET_SUPPRESSION = Operation(
    handler=get_suppression,
    summary="Whether a number is opted out, since when, how, its history and its blocked messages",
    access=Access.TOKEN,
    parameters=(NUMBER, SCOPE, LIMIT, CURSOR),
    replies={200: Reply("Opted out", SUPPRESSION_DETAIL)},
    errors=(400, 404, 503),
)


async def remove_suppression(context: AdminContext, request: Request) -> Response:
    number, scope = _number_and_scope(context, request)
    reason = request.query_params.get("reason")
    if reason is None:
        reason = string_field(await json_body(request, optional=True), "reason")
    if reason is None or not reason.strip():
        raise ApiError(400, 'a reason is required to remove an opt-out (?reason=... or {"reason"})')
    if len(reason) > MAX_REASON:
        raise ApiError(400, f"'reason' is longer than {MAX_REASON} characters")
    operator = request.state.operator
    if not await opt_in(context, scope=scope, number=number, operator=operator, reason=reason):
        raise ApiError(404, f"{number} was not opted out in scope {scope}", number=number, scope=scope)
    log.info("opt-out lifted through the API", scope=scope, operator=operator)
    return JSONResponse({"removed": True, "suppressed": False, "number": number, "scope": scope})


REMOVE_SUPPRESSION = Operation(
    handler=remove_suppression,
    summary="Lift an opt-out (a reason is required)",
    access=Access.TOKEN,
    parameters=(
        NUMBER,
        SCOPE,
        Param(
            name="reason",
            where="query",
            description='Why (or a JSON body {"reason": ...}); required one way or the other.',
            schema=REASON_INPUT,
        ),
    ),
    body=(REASON, False),
    replies={200: Reply("Removed", REMOVAL_RESULT)},
    errors=(400, 404, 413, 503),
)
