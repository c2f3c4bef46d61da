"""The admin API server: the route table, Starlette on uvicorn, run as one more task of the process.

It listens on ``[admin] listen`` in the proxy's event loop and is stopped with the proxy (the process
owns SIGTERM/SIGHUP, not uvicorn).
"""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Mapping
from functools import partial
from typing import Any

import anyio
import anyio.abc
import structlog
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response

from gateway.ops.admin import (
    events,
    health,
    integrations,
    lockouts,
    openapi,
    routing,
    suppressions,
    upstreams,
)
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import error_response
from gateway.ops.admin.routes import ApiRoute, Operation
from gateway.ops.console import ConsoleContext, ServeConsole

log = structlog.get_logger("stopgate.admin")

#: Every route served, by path and method; the OpenAPI document is built from this table.
ROUTES: tuple[tuple[str, Mapping[str, Operation]], ...] = (
    ("/healthz", {"GET": health.HEALTHZ}),
    ("/readyz", {"GET": health.READYZ}),
    ("/metrics", {"GET": health.METRICS}),
    ("/v1/suppressions", {"GET": suppressions.LIST_SUPPRESSIONS, "POST": suppressions.ADD_SUPPRESSION}),
    (
        "/v1/suppressions/{number}",
        {"GET": suppressions.GET_SUPPRESSION, "DELETE": suppressions.REMOVE_SUPPRESSION},
    ),
    ("/v1/events", {"GET": events.LIST_EVENTS}),
    ("/v1/webhooks", {"GET": integrations.LIST_WEBHOOKS}),
    ("/v1/consents", {"POST": integrations.ADD_CONSENT}),
    ("/v1/consents/{number}", {"GET": integrations.GET_CONSENTS}),
    ("/v1/redactions", {"POST": integrations.REDACT}),
    ("/v1/lockouts", {"GET": lockouts.LIST_LOCKOUTS, "DELETE": lockouts.LIFT_LOCKOUTS}),
    ("/v1/routes", {"GET": routing.LIST_ROUTES}),
    ("/v1/upstreams", {"GET": upstreams.LIST_UPSTREAMS}),
    ("/openapi.json", {"GET": openapi.OPENAPI_JSON}),
    ("/docs", {"GET": openapi.DOCS_PAGE}),
)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the process owns SIGTERM/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass


class AdminServer:
    """The admin API over one :class:`AdminContext`."""

    def __init__(self, context: AdminContext) -> None:
        self.context = context
        self.port: int | None = None
        self._server: _Server | None = None
        self._done = anyio.Event()
        # The compliance console (/ui) commits through the API's own opt-out / opt-in.
        self.console = ConsoleContext(
            store=context.store,
            config=context.config,
            opt_out=partial(suppressions.opt_out, context),
            opt_in=partial(suppressions.opt_in, context),
            upstreams=context.upstreams,
        )
        self.asgi = Starlette(
            routes=[ApiRoute(path, operations, context) for path, operations in ROUTES],
            middleware=[Middleware(ServeConsole, context=self.console)],
            exception_handlers={HTTPException: _http_error, Exception: _internal_error},
        )

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``admin.host:port`` (port 0: any free port, see :attr:`port`) until :meth:`stop`."""
        config = self.context.config()
        admin = config.admin
        sock = listen_socket(admin.host, admin.port)
        self.port = int(sock.getsockname()[1])
        server = self._server = _Server(
            uvicorn.Config(
                self.asgi,
                log_config=None,
                access_log=False,
                lifespan="off",
                ws="none",
                server_header=False,
                timeout_graceful_shutdown=max(1, round(config.session.shutdown_grace)),
            )
        )
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
                # uvicorn says it has started only through this flag.
                with anyio.fail_after(10):
                    while not server.started:
                        await anyio.sleep(0.005)
                log.info("admin API listening", host=admin.host, port=self.port)
                task_status.started()
        finally:
            for listener in getattr(server, "servers", []):
                listener.close()
            sock.close()
            self._done.set()

    async def stop(self) -> None:
        """Stop accepting, finish the requests in progress (bounded), and return when stopped."""
        server = self._server
        if server is None:
            return
        server.should_exit = True
        with anyio.move_on_after(self.context.config().session.shutdown_grace + 2.0):
            await self._done.wait()


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    messages = {404: "no such route", 405: "method not allowed on this route"}
    message = messages.get(exc.status_code) or str(exc.detail)
    return error_response(exc.status_code, message, headers=dict(exc.headers or {}))


async def _internal_error(request: Request, exc: Exception) -> Response:
    log.error("admin API request failed", path=request.url.path, error=repr(exc))
    return error_response(500, "internal error")


def listen_socket(host: str, port: int) -> socket.socket:
    """A listening, non-blocking TCP socket on ``host:port`` (IPv6 only on an IPv6 host)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(128)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        raise OSError(exc.errno, f"admin API cannot listen on {where}: {exc.strerror or exc}") from None
    except BaseException:
        sock.close()
        raise
    return sock
