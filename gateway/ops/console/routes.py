"""The console's route table, mounted at ``/ui`` on the admin listener.

==================================  ==========================================================
``GET /ui/sign-in``, ``POST``       the sign-in form; a token in, a session cookie out
``POST /ui/sign-out``               end the session
``GET /ui/``                        overview (``days`` = 30, 90 or 365; ``scope``)
``GET /ui/numbers``                 number lookup (``number``, ``scope``, page cursors)
``GET /ui/suppressions``            the list (``q``, ``scope``, page cursor)
``GET /ui/suppressions.csv``        the list as CSV
``POST /ui/suppressions/add``       opt a number out (admin role, reason required)
``GET|POST /ui/suppressions/remove``  confirm, then lift an opt-out (admin role, reason required)
``GET /ui/audit``, ``/ui/audit/export``  the audit export form and the download (JSONL or CSV)
``GET /ui/upstreams``               upstreams (health, binds, TPS, errors, breaker) and routes
``GET /ui/static/...``              the stylesheet, the chart library and the chart script
==================================  ==========================================================
"""

from __future__ import annotations

from functools import partial

from starlette.applications import Starlette
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Receive, Scope, Send

from gateway.ops.console import audit, lookup, overview, signin, suppressions, upstreams
from gateway.ops.console.context import ConsoleContext
from gateway.ops.console.web import BASE, signed_in


def console_mount(context: ConsoleContext) -> Mount:
    """Every console route under ``/ui``."""
    return Mount(
        BASE,
        routes=[
            Route("/", signed_in(context, overview.overview), methods=["GET"]),
            Route("/sign-in", partial(signin.sign_in_page, context), methods=["GET"]),
            Route("/sign-in", partial(signin.sign_in, context), methods=["POST"]),
            Route("/sign-out", partial(signin.sign_out, context), methods=["POST"]),
            Route("/numbers", signed_in(context, lookup.lookup), methods=["GET"]),
            Route("/suppressions", signed_in(context, suppressions.suppressions), methods=["GET"]),
            Route("/suppressions.csv", signed_in(context, suppressions.export_csv), methods=["GET"]),
            Route("/suppressions/add", signed_in(context, suppressions.add), methods=["POST"]),
            Route("/suppressions/remove", signed_in(context, suppressions.remove_page), methods=["GET"]),
            Route("/suppressions/remove", signed_in(context, suppressions.remove), methods=["POST"]),
            Route("/audit", signed_in(context, audit.audit_page), methods=["GET"]),
            Route("/audit/export", signed_in(context, audit.export), methods=["GET"]),
            Route("/upstreams", signed_in(context, upstreams.upstreams), methods=["GET"]),
            Mount("/static", StaticFiles(packages=[("gateway.ops.console", "static")]), name="static"),
        ],
    )


class ServeConsole:
    """ASGI middleware: ``/ui`` and below go to the console, every other request on to ``app``.

    The admin API's route table stays the API alone (its OpenAPI document is built from it and
    documents every route in it); the console is beside it on the same listener.
    """

    def __init__(self, app: ASGIApp, context: ConsoleContext) -> None:
        self.app = app
        self.console = Starlette(routes=[console_mount(context)])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if scope["type"] == "http" and (path == BASE or path.startswith(f"{BASE}/")):
            await self.console(scope, receive, send)
        else:
            await self.app(scope, receive, send)
