"""Upstreams and routes: each SMSC connection's health, binds, rate and errors, and the route table.

The status is the running proxy's snapshot (:class:`~gateway.proxy.pool_status.UpstreamStatus`,
taken on each page view); the route table is the config in force
(:func:`~gateway.ops.route_view.routes_json`). Both are read-only: a viewer sees what an admin sees.
"""

from __future__ import annotations

from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import Response

from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.sessions import Signed
from gateway.ops.console.web import render
from gateway.ops.route_view import routes_json

#: How each health and bind state reads against the thresholds' colours.
LEVELS = {
    "bound": "good",
    "degraded": "watch",
    "connecting": "watch",
    "down": "critical",
    "closed": "good",
    "half_open": "watch",
    "open": "critical",
}


def when(unix: float) -> str:
    """``2026-12-02 12:00:05Z`` for a Unix time (0: never)."""
    if not unix:
        return "never"
    return datetime.fromtimestamp(unix, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


async def upstreams(context: ConsoleContext, request: Request, signed: Signed) -> Response:
    config = context.config()
    status = sorted(context.upstreams(), key=lambda u: u.name)
    reported = {u.name for u in status}
    return render(
        context,
        "upstreams.html",
        signed=signed,
        upstreams=status,
        # Configured upstreams the proxy reported nothing about (no proxy here, or not started yet).
        silent=sorted(set(config.upstreams) - reported),
        routes=routes_json(config),
        levels=LEVELS,
        when=when,
    )
