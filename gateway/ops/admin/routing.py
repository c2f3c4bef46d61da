"""``GET /v1/routes``: the MT route table in force (in order) and the MO routes (issue 14)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.routes import Operation, Reply, Schema
from gateway.ops.route_view import routes_json

_STRINGS = {"type": "array", "items": {"type": "string"}}
RULE = Schema(
    "Route",
    {
        "type": "object",
        "required": ["name", "upstreams", "strategy"],
        "properties": {
            "name": {"type": "string"},
            "accounts": _STRINGS,
            "prefixes": _STRINGS,
            "sources": _STRINGS,
            "service_types": _STRINGS,
            "upstreams": _STRINGS,
            "strategy": {"type": "string", "enum": ["failover", "round_robin", "weighted"]},
            "weights": {"type": "array", "items": {"type": "integer"}},
        },
    },
)
ROUTE_TABLE = Schema(
    "RouteTable",
    {
        "type": "object",
        "required": ["configured", "routes"],
        "properties": {
            "configured": {"type": "boolean"},
            "routes": {"type": "array", "items": RULE.ref},
            "accounts_without_routes": {"type": "object", "additionalProperties": {"type": "string"}},
            "mo_routes": {"type": "array", "items": {"type": "object"}},
            "mo_default_account": {"type": ["string", "null"]},
        },
    },
    uses=(RULE,),
)


async def list_routes(context: AdminContext, request: Request) -> Response:
    return JSONResponse(routes_json(context.config()))


LIST_ROUTES = Operation(
    handler=list_routes,
    summary="The MT route table in order (first match wins), and the MO routes",
    access=Access.TOKEN,
    replies={200: Reply("The route table", ROUTE_TABLE)},
)
