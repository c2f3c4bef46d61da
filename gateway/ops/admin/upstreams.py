"""``GET /v1/upstreams``: each upstream's health, throughput, breaker and counters, and its binds (issue 14).

A snapshot taken by the running proxy (:class:`gateway.proxy.pool_status.UpstreamStatus`, read here
through :class:`UpstreamView` so the API never imports the proxy): in pooled mode (routes configured)
the binds Stopgate holds itself, in per-session mode each bound ESME session's own upstream bind.
Times are ISO-8601 UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext, BindView, UpstreamView
from gateway.ops.admin.routes import Operation, Reply, Schema

_TIME = {"type": "string", "format": "date-time", "description": "ISO-8601 UTC"}
_COUNT = {"type": "integer", "minimum": 0}
BIND = Schema(
    "UpstreamBind",
    {
        "type": "object",
        "required": ["index", "mode", "state", "since", "in_flight"],
        "properties": {
            "index": {"type": "integer"},
            "mode": {"type": "string", "enum": ["transceiver", "transmitter", "receiver"]},
            "state": {"type": "string", "enum": ["bound", "connecting", "down"]},
            "since": _TIME,
            "in_flight": _COUNT | {"description": "Requests sent on this bind and not yet answered"},
        },
    },
)
UPSTREAM = Schema(
    "Upstream",
    {
        "type": "object",
        "required": ["name", "health", "since", "pooled", "max_tps", "tps", "breaker", "counters", "binds"],
        "properties": {
            "name": {"type": "string"},
            "health": {"type": "string", "enum": ["bound", "degraded", "down"]},
            "since": _TIME,
            "pooled": {
                "type": "boolean",
                "description": "Stopgate holds the binds (routes configured); false: one per ESME session",
            },
            "max_tps": {"type": ["number", "null"], "description": "The configured limit (null: none)"},
            "tps": {"type": "number", "description": "Submits per second over the last few seconds"},
            "breaker": {"type": "string", "enum": ["closed", "open", "half_open"]},
            "counters": {
                "type": "object",
                "required": ["submits", "errors", "throttled", "failovers"],
                "properties": {name: _COUNT for name in ("submits", "errors", "throttled", "failovers")},
            },
            "binds": {"type": "array", "items": BIND.ref},
        },
    },
    uses=(BIND,),
)
UPSTREAMS = Schema(
    "Upstreams",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": UPSTREAM.ref}},
    },
    uses=(UPSTREAM,),
)


def iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def bind_json(bind: BindView) -> dict[str, Any]:
    return {
        "index": bind.index,
        "mode": bind.mode,
        "state": bind.state,
        "since": iso(bind.since),
        "in_flight": bind.in_flight,
    }


def upstream_json(status: UpstreamView) -> dict[str, Any]:
    return {
        "name": status.name,
        "health": status.health,
        "since": iso(status.since),
        "pooled": status.pooled,
        "max_tps": status.max_tps,
        "tps": round(status.tps, 2),
        "breaker": status.breaker,
        "counters": {
            "submits": status.submits,
            "errors": status.errors,
            "throttled": status.throttled,
            "failovers": status.failovers,
        },
        "binds": [bind_json(b) for b in status.binds],
    }


async def list_upstreams(context: AdminContext, request: Request) -> Response:
    return JSONResponse({"items": [upstream_json(s) for s in context.upstreams()]})


LIST_UPSTREAMS = Operation(
    handler=list_upstreams,
    summary="Each upstream's health, throughput, breaker and counters, and its binds",
    access=Access.TOKEN,
    replies={200: Reply("The upstreams in config order", UPSTREAMS)},
)
