"""Issue 16's routes: ``/v1/webhooks`` (delivery state), ``/v1/consents`` (records), and
``/v1/redactions`` (erasure of a subscriber's personal fields from the log)."""

from __future__ import annotations

from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import ApiError, json_body, string_field
from gateway.ops.admin.routes import Operation, Param, Reply, Schema
from gateway.ops.admin.schemas import EVENT
from gateway.ops.records import event_record
from gateway.ops.subscriber_records import consent_from_fields, consent_record, webhook_statuses
from gateway.store import Channel

log = structlog.get_logger("stopgate.admin")

_NULLABLE_STRING: dict[str, Any] = {"type": ["string", "null"]}

WEBHOOK = Schema(
    "Webhook",
    {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "url": _NULLABLE_STRING,
            "events": {"type": ["array", "null"], "items": {"type": "string"}},
            "configured": {"type": "boolean"},
            "cursor": {"type": "integer"},
            "pending": {"type": "integer"},
            "dead_letters": {"type": "integer"},
            "last_error": _NULLABLE_STRING,
            "updated": _NULLABLE_STRING,
            "recent_dead_letters": {"type": "array", "items": {"type": "object"}},
        },
    },
)
WEBHOOKS = Schema(
    "WebhookList",
    {"type": "object", "properties": {"items": {"type": "array", "items": WEBHOOK.ref}}},
    uses=(WEBHOOK,),
)
CONSENT = Schema(
    "Consent",
    {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "number": {"type": "string"},
            "scope": {"type": "string"},
            "source": {"type": "string"},
            "wording": _NULLABLE_STRING,
            "time": {"type": "string", "format": "date-time"},
            "evidence": {"type": "object", "additionalProperties": {"type": "string"}},
            "account": _NULLABLE_STRING,
            "ended": _NULLABLE_STRING,
            "live": {"type": "boolean"},
        },
    },
)
NEW_CONSENT = Schema(
    "NewConsent",
    {
        "type": "object",
        "required": ["number", "source"],
        "properties": {
            "number": {"type": "string"},
            "scope": {"type": "string"},
            "source": {"type": "string", "example": "web_form"},
            "wording": {"type": "string"},
            "time": {"type": "string", "format": "date-time"},
            "evidence": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
)
CONSENT_HISTORY = Schema(
    "ConsentHistory",
    {
        "type": "object",
        "properties": {
            "number": {"type": "string"},
            "scope": {"type": "string"},
            "live": {"type": "boolean"},
            "consents": {"type": "array", "items": CONSENT.ref},
            "history": {"type": "array", "items": EVENT.ref},
        },
    },
    uses=(CONSENT, EVENT),
)
REDACTION = Schema(
    "Redaction",
    {"type": "object", "required": ["number"], "properties": {"number": {"type": "string"}}},
)
REDACTION_RESULT = Schema(
    "RedactionResult",
    {"type": "object", "properties": {"number": {"type": "string"}, "redacted_events": {"type": "integer"}}},
)


async def list_webhooks(context: AdminContext, request: Request) -> Response:
    store = context.store
    items = await webhook_statuses(store, store, context.config().webhooks)
    return JSONResponse({"items": items})


async def add_consent(context: AdminContext, request: Request) -> Response:
    data = await json_body(request)
    text = string_field(data, "number", required=True)
    assert text is not None
    scope = context.scope(string_field(data, "scope"), required=True)
    assert scope is not None
    number = context.number(text)
    try:
        consent = consent_from_fields(data, number=number, scope=scope, account=request.state.operator)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    stored = await context.store.add_consent(consent, channel=Channel.API)
    log.info("consent recorded through the API", scope=scope, source=stored.source)
    return JSONResponse(consent_record(stored), status_code=201)


async def get_consents(context: AdminContext, request: Request) -> Response:
    number = context.number(request.path_params["number"])
    scope = context.scope(request.query_params.get("scope"), required=True)
    assert scope is not None
    consents = await context.store.consents(scope, number)
    history = await context.store.history(scope, number)
    return JSONResponse(
        {
            "number": number,
            "scope": scope,
            "live": any(c.ended is None for c in consents),
            "consents": [consent_record(c) for c in consents],
            "history": [event_record(e) for e in history],
        }
    )


async def redact(context: AdminContext, request: Request) -> Response:
    data = await json_body(request)
    text = string_field(data, "number", required=True)
    assert text is not None
    number = context.number(text)
    changed = await context.store.redact_number(number, operator=request.state.operator, channel=Channel.API)
    log.info("subscriber data redacted through the API", redacted_events=changed)
    return JSONResponse({"number": number, "redacted_events": changed})


LIST_WEBHOOKS = Operation(
    handler=list_webhooks,
    summary="Webhook delivery: cursor, backlog, last error and dead letters per webhook",
    access=Access.TOKEN,
    replies={200: Reply("Every webhook", WEBHOOKS)},
    errors=(503,),
)
ADD_CONSENT = Operation(
    handler=add_consent,
    summary="Record that a number consented to marketing (who, when, how, what they were told)",
    access=Access.TOKEN,
    body=(NEW_CONSENT, True),
    replies={201: Reply("Recorded", CONSENT)},
    errors=(400, 413, 503),
)
GET_CONSENTS = Operation(
    handler=get_consents,
    summary="A number's consent records beside its opt-out history",
    access=Access.TOKEN,
    parameters=(
        Param(name="number", where="path", description="Phone number (E.164 recommended).", required=True),
        Param(name="scope", where="query", description="Scope; optional when a single scope is configured."),
    ),
    replies={200: Reply("Consents and history", CONSENT_HISTORY)},
    errors=(400, 503),
)
REDACT = Operation(
    handler=redact,
    summary="Erase a subscriber's MO text and personal fields from the log (the suppression stays)",
    access=Access.TOKEN,
    body=(REDACTION, True),
    replies={200: Reply("Redacted", REDACTION_RESULT)},
    errors=(400, 413, 503),
)
