"""``/v1/lockouts``: the proxy's bind lockouts in force (GET) and lifting them (DELETE).

Lockouts live in the running proxy's memory (they last minutes and end on their own), so
``stopgate security unlock`` is a client of this route rather than a writer of the store.
"""

from __future__ import annotations

import ipaddress

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import ApiError
from gateway.ops.admin.routes import Operation, Param, Reply, Schema

LOCKOUT = Schema(
    "Lockout",
    {
        "type": "object",
        "required": ["ip", "system_id", "remaining_seconds", "count"],
        "properties": {
            "ip": {"type": "string"},
            "system_id": {"type": "string"},
            "remaining_seconds": {"type": "number"},
            "count": {"type": "integer", "description": "Lockouts in a row (each doubles the next)"},
        },
    },
)
LOCKOUTS = Schema(
    "Lockouts",
    {
        "type": "object",
        "required": ["items"],
        "properties": {"items": {"type": "array", "items": LOCKOUT.ref}},
    },
    uses=(LOCKOUT,),
)


async def list_lockouts(context: AdminContext, request: Request) -> Response:
    return JSONResponse({"items": context.lockouts()})


async def lift_lockouts(context: AdminContext, request: Request) -> Response:
    ip = request.query_params.get("ip", "")
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ApiError(400, "ip must be an IPv4 or IPv6 address") from None
    system_id = request.query_params.get("system_id") or None
    if system_id is not None and len(system_id) > 16:
        raise ApiError(400, "system_id is at most 16 characters")
    return JSONResponse({"items": context.unlock(ip, system_id)})


LIST_LOCKOUTS = Operation(
    handler=list_lockouts,
    summary="Bind lockouts in force, per (source address, system_id)",
    access=Access.TOKEN,
    replies={200: Reply("Lockouts in force", LOCKOUTS)},
)
LIFT_LOCKOUTS = Operation(
    handler=lift_lockouts,
    summary="Lift the bind lockouts of one address (of one system_id, or all of them)",
    access=Access.TOKEN,
    parameters=(
        Param(name="ip", where="query", description="The client's address.", required=True),
        Param(
            name="system_id",
            where="query",
            description="Only this account's lockout (all of the address's when omitted).",
            schema={"type": "string", "maxLength": 16},
        ),
    ),
    replies={200: Reply("The lockouts lifted (empty when none was in force)", LOCKOUTS)},
    errors=(400,),
)
