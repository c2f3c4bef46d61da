"""The admin HTTP API: health, Prometheus metrics and the suppression list, in the proxy's process.

Starlette on uvicorn, run as one more task in the App's event loop (``[admin] listen``). Routes:

==========================================  ===============================================================
``GET /healthz``                            the process is up
``GET /readyz``                             the store commits, and every upstream of a bound account is up
``GET /metrics``                            Prometheus text format
``GET /v1/suppressions``                    list (``scope``, ``limit``, ``cursor``)
``POST /v1/suppressions``                   ``{"number", "scope", "reason"}``: opt a number out
``GET /v1/suppressions/{number}``           one number (``?scope=``) with its history
``DELETE /v1/suppressions/{number}``        lift an opt-out (``?scope=``; ``reason`` required)
``GET /v1/events``                          the audit log (``since``, ``until``, ``number``, ``type``, ...)
``GET /openapi.json``, ``GET /docs``        the OpenAPI 3.1 document and a plain HTML index of it
==========================================  ===============================================================

``/v1`` needs ``Authorization: Bearer <token>`` matching one of ``admin.tokens`` (constant-time
comparison); the health routes and ``/metrics`` are open unless ``open_health`` / ``open_metrics`` is
false. Tokens and those switches are read on every request, so SIGHUP reloads them.

A change is committed to the store (channel ``api``) and then applied to the in-memory index before
the response is sent, so the proxy blocks the number from the next submit on. Every error is a JSON
body ``{"error": "..."}``: 4xx for bad input, 503 when the store fails.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import html
import json
import socket
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio
import anyio.abc
import structlog
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from gateway.numbers import InvalidNumber, parse_user_number
from gateway.records import event_record, parse_iso, suppression_record
from gateway.store.model import Channel, Event, EventType, StoreError

if TYPE_CHECKING:
    from gateway.app import App

log = structlog.get_logger("stopgate.admin")

#: Page sizes accepted by the list routes.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_BODY = 64 * 1024
MAX_REASON = 1000

Endpoint = Callable[[Request], Awaitable[Response]]


class ApiError(Exception):
    """Answered as ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def _error(status: int, message: str, headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


# -- cursors -------------------------------------------------------------------------------------


def encode_cursor(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise ApiError(400, "invalid cursor (pass next_cursor from the previous page unchanged)") from None


# -- the server ----------------------------------------------------------------------------------


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the App owns SIGTERM/SIGHUP."""

    @contextlib.contextmanager
    def capture_signals(self) -> Any:
        yield

    def install_signal_handlers(self) -> None:  # uvicorn < 0.29
        pass


class AdminServer:
    """The admin API of one :class:`gateway.app.App`."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.port: int | None = None
        self._server: _Server | None = None
        self._done = anyio.Event()
        self.asgi = Starlette(
            routes=[
                Route("/healthz", self._protect("health", self.healthz), methods=["GET"]),
                Route("/readyz", self._protect("health", self.readyz), methods=["GET"]),
                Route("/metrics", self._protect("metrics", self.metrics), methods=["GET"]),
                Route(
                    "/v1/suppressions",
                    self._protect("v1", self.suppressions),
                    methods=["GET", "POST"],
                ),
                Route(
                    "/v1/suppressions/{number}",
                    self._protect("v1", self.suppression),
                    methods=["GET", "DELETE"],
                ),
                Route("/v1/events", self._protect("v1", self.events), methods=["GET"]),
                Route("/openapi.json", self.openapi, methods=["GET"]),
                Route("/docs", self.docs, methods=["GET"]),
            ],
            exception_handlers={HTTPException: self._http_error, Exception: self._internal_error},
        )

    # -- lifecycle ------------------------------------------------------------------------------

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen on ``admin.host:port`` (port 0: any free port, see :attr:`port`) until :meth:`stop`."""
        admin = self.app.config.admin
        sock = _listen_socket(admin.host, admin.port)
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self.asgi,
            log_config=None,
            access_log=False,
            lifespan="off",
            ws="none",
            server_header=False,
            timeout_graceful_shutdown=max(1, round(self.app.config.session.shutdown_grace)),
        )
        server = self._server = _Server(config)
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(server.serve, [sock])
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
        with anyio.move_on_after(self.app.config.session.shutdown_grace + 2.0):
            await self._done.wait()

    # -- plumbing -------------------------------------------------------------------------------

    def _protect(self, kind: str, endpoint: Endpoint) -> Endpoint:
        async def guarded(request: Request) -> Response:
            admin = self.app.config.admin
            open_ = (kind == "health" and admin.open_health) or (kind == "metrics" and admin.open_metrics)
            if not open_:
                who = self._authenticate(request)
                if who is None:
                    message = (
                        "missing or invalid bearer token"
                        if admin.tokens
                        else "no admin tokens are configured (set admin.tokens or $"
                        f"{admin.token_env or 'STOPGATE_ADMIN_TOKEN'})"
                    )
                    return _error(401, message, headers={"WWW-Authenticate": 'Bearer realm="stopgate"'})
                request.state.operator = who
            try:
                return await endpoint(request)
            except ApiError as exc:
                return _error(exc.status, exc.message, **exc.extra)
            except InvalidNumber as exc:
                return _error(400, str(exc))
            except StoreError as exc:
                log.warning("store error in the admin API", error=str(exc))
                return _error(503, f"store unavailable: {exc}")

        return guarded

    def _authenticate(self, request: Request) -> str | None:
        """``api:tokenN`` for the configured token presented (every one compared in constant time)."""
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        given = value.strip().encode("utf-8", "surrogateescape")
        found = None
        for i, token in enumerate(self.app.config.admin.tokens):
            if hmac.compare_digest(given, token.encode("utf-8")) and found is None:
                found = f"api:token{i + 1}"
        return found

    async def _http_error(self, request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        messages = {404: "no such route", 405: "method not allowed on this route"}
        message = messages.get(exc.status_code) or str(exc.detail)
        return _error(exc.status_code, message, headers=dict(exc.headers or {}))

    async def _internal_error(self, request: Request, exc: Exception) -> Response:
        log.error("admin API request failed", path=request.url.path, error=repr(exc))
        return _error(500, "internal error")

    def _scope(self, value: str | None, *, required: bool) -> str | None:
        scopes = sorted({a.scope for a in self.app.config.accounts.values()})
        if value is None or value == "":
            if not required:
                return None
            if len(scopes) == 1:
                return scopes[0]
            raise ApiError(400, f"several scopes are configured ({', '.join(scopes)}): pass scope")
        if value not in scopes:
            raise ApiError(400, f"unknown scope {value!r} (configured: {', '.join(scopes)})")
        return value

    def _number(self, text: str) -> str:
        return parse_user_number(text, self.app.config.numbers.default_country)

    @staticmethod
    def _limit(request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return DEFAULT_LIMIT
        if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
            raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw!r}")
        return int(raw)

    @staticmethod
    def _query_time(request: Request, name: str) -> Any:
        raw = request.query_params.get(name)
        if raw is None:
            return None
        try:
            return parse_iso(raw)
        except ValueError as exc:
            raise ApiError(400, f"{name}: {exc}") from None

    @staticmethod
    async def _json_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise ApiError(413, f"request body larger than {MAX_BODY} bytes")
        if not body.strip():
            if optional:
                return {}
            raise ApiError(400, "a JSON object body is required")
        try:
            data = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ApiError(400, f"invalid JSON body: {exc}") from None
        if not isinstance(data, dict):
            raise ApiError(400, "the JSON body must be an object")
        return data

    @staticmethod
    def _string_field(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
        value = data.get(name)
        if value is None:
            if required:
                raise ApiError(400, f"{name!r} is required")
            return None
        if not isinstance(value, str):
            raise ApiError(400, f"{name!r} must be a string, got {type(value).__name__}")
        if name == "reason" and len(value) > MAX_REASON:
            raise ApiError(400, f"'reason' is longer than {MAX_REASON} characters")
        return value

    def _feed(self) -> Any:
        feed = self.app.feed
        if feed is None:
            raise ApiError(503, "the proxy is not running")
        return feed

    # -- health and metrics ---------------------------------------------------------------------

    async def healthz(self, request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(self, request: Request) -> Response:
        problems: list[str] = []
        checks: dict[str, str] = {}
        try:
            await self.app.store.check_writable()
            checks["store"] = "ok"
        except StoreError as exc:
            checks["store"] = "failed"
            problems.append(f"store: {exc}")
        proxy = self.app.proxy
        if proxy is None:
            problems.append("proxy: not started")
        else:
            for session in list(proxy.sessions):
                if not session.bound:
                    continue
                account = session.account
                link = session.upstream
                up = link is not None and not link.closed
                key = f"upstream {account.upstream}"
                if not up:
                    checks[key] = "unreachable"
                    problems.append(
                        f"upstream {account.upstream} is unreachable (account {account.system_id} is bound)"
                    )
                else:
                    checks.setdefault(key, "ok")
        if problems:
            unique = list(dict.fromkeys(problems))
            return JSONResponse(
                {"status": "unavailable", "error": "; ".join(unique), "reasons": unique, "checks": checks},
                status_code=503,
            )
        return JSONResponse({"status": "ready", "checks": checks})

    async def metrics(self, request: Request) -> Response:
        return Response(generate_latest(self.app.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    # -- suppressions ---------------------------------------------------------------------------

    async def suppressions(self, request: Request) -> Response:
        if request.method == "POST":
            return await self._add(request)
        scope = self._scope(request.query_params.get("scope"), required=False)
        limit = self._limit(request)
        after = None
        cursor = request.query_params.get("cursor")
        if cursor:
            value = decode_cursor(cursor)
            if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
                raise ApiError(400, "invalid cursor (pass next_cursor from the previous page unchanged)")
            after = (value[0], value[1])
        page = await self.app.store.list_suppressions(scope, after, limit + 1)
        more = len(page) > limit
        page = page[:limit]
        next_cursor = encode_cursor([page[-1].scope, page[-1].number]) if more else None
        return JSONResponse({"items": [suppression_record(s) for s in page], "next_cursor": next_cursor})

    async def _add(self, request: Request) -> Response:
        data = await self._json_body(request)
        unknown = sorted(set(data) - {"number", "scope", "reason"})
        if unknown:
            raise ApiError(400, f"unknown field(s): {', '.join(unknown)} (expected number, scope, reason)")
        text = self._string_field(data, "number", required=True)
        assert text is not None
        scope = self._scope(self._string_field(data, "scope"), required=True)
        assert scope is not None
        reason = self._string_field(data, "reason")
        number = self._number(text)
        feed = self._feed()
        event = Event(
            type=EventType.ADMIN_ADD,
            number=number,
            scope=scope,
            channel=Channel.API,
            account=request.state.operator,
            reason=reason,
        )
        started = time.perf_counter()
        new = await self.app.store.opt_out(event)
        self.app.metrics.store_commit.observe(time.perf_counter() - started)
        await feed.apply_local(scope, number, True)
        if new:
            self.app.metrics.optouts.labels(scope, "api").inc()
        log.info("opted out through the API", scope=scope, new=new, operator=request.state.operator)
        current = await self.app.store.get_suppression(scope, number)
        body: dict[str, Any] = {"created": new, "suppressed": True}
        if current is not None:
            body.update(suppression_record(current))
        else:  # removed concurrently
            body.update({"number": number, "scope": scope})
        return JSONResponse(body, status_code=201 if new else 200)

    async def suppression(self, request: Request) -> Response:
        number = self._number(request.path_params["number"])
        scope = self._scope(request.query_params.get("scope"), required=True)
        assert scope is not None
        if request.method == "DELETE":
            return await self._remove(request, scope, number)
        store = self.app.store
        current = await store.get_suppression(scope, number)
        history = [event_record(e) for e in await store.history(scope, number)]
        if current is None:
            raise ApiError(
                404,
                f"{number} is not opted out in scope {scope}",
                number=number,
                scope=scope,
                suppressed=False,
                history=history,
            )
        return JSONResponse({"suppressed": True, **suppression_record(current), "history": history})

    async def _remove(self, request: Request, scope: str, number: str) -> Response:
        reason = request.query_params.get("reason")
        if reason is None:
            data = await self._json_body(request, optional=True)
            reason = self._string_field(data, "reason")
        if reason is None or not reason.strip():
            raise ApiError(400, 'a reason is required to remove an opt-out (?reason=... or {"reason"})')
        if len(reason) > MAX_REASON:
            raise ApiError(400, f"'reason' is longer than {MAX_REASON} characters")
        feed = self._feed()
        event = Event(
            type=EventType.ADMIN_REMOVE,
            number=number,
            scope=scope,
            channel=Channel.API,
            account=request.state.operator,
            reason=reason,
        )
        started = time.perf_counter()
        removed = await self.app.store.opt_in(event)
        self.app.metrics.store_commit.observe(time.perf_counter() - started)
        await feed.apply_local(scope, number, False)
        if not removed:
            raise ApiError(404, f"{number} was not opted out in scope {scope}", number=number, scope=scope)
        self.app.metrics.optins.labels(scope, "api").inc()
        log.info("opt-out lifted through the API", scope=scope, operator=request.state.operator)
        return JSONResponse({"removed": True, "suppressed": False, "number": number, "scope": scope})

    # -- events ---------------------------------------------------------------------------------

    async def events(self, request: Request) -> Response:
        query = request.query_params
        since = self._query_time(request, "since")
        until = self._query_time(request, "until")
        number = self._number(query["number"]) if query.get("number") else None
        scope = self._scope(query.get("scope"), required=False)
        types: list[EventType] | None = None
        raw_types = [t for value in query.getlist("type") for t in value.split(",") if t.strip()]
        if raw_types:
            types = []
            for name in raw_types:
                try:
                    types.append(EventType(name.strip().lower()))
                except ValueError:
                    known = ", ".join(t.value for t in EventType)
                    raise ApiError(400, f"unknown event type {name!r} (known: {known})") from None
        after_id = 0
        cursor = query.get("cursor")
        if cursor:
            value = decode_cursor(cursor)
            if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
                raise ApiError(400, "invalid cursor (pass next_cursor from the previous page unchanged)")
            after_id = value
        limit = self._limit(request)
        page = await self.app.store.events(
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

    # -- documentation --------------------------------------------------------------------------

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(
            openapi_document(self.app.config.admin.open_health, self.app.config.admin.open_metrics)
        )

    async def docs(self, request: Request) -> Response:
        doc = openapi_document(self.app.config.admin.open_health, self.app.config.admin.open_metrics)
        rows = []
        for path, methods in doc["paths"].items():
            for method, op in methods.items():
                secured = "bearer token" if op.get("security", doc["security"]) else "open"
                rows.append(
                    f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                    f"<td>{html.escape(op['summary'])}</td><td>{secured}</td></tr>"
                )
        page = (
            "<!doctype html><html><head><meta charset='utf-8'><title>Stopgate admin API</title></head>"
            "<body><h1>Stopgate admin API</h1><p>Machine-readable: <a href='/openapi.json'>/openapi.json</a>"
            "</p><table border='1' cellpadding='4'><tr><th>method</th><th>path</th><th>summary</th>"
            f"<th>auth</th></tr>{''.join(rows)}</table></body></html>"
        )
        return HTMLResponse(page)


def _listen_socket(host: str, port: int) -> socket.socket:
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


# -- OpenAPI -------------------------------------------------------------------------------------


def _param(
    name: str, where: str, description: str, *, required: bool = False, **schema: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "in": where,
        "required": required,
        "description": description,
        "schema": schema or {"type": "string"},
    }


def _json(ref: str) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"#/components/schemas/{ref}"}}}


def _responses(ok: tuple[int, str, str], *errors: int) -> dict[str, Any]:
    status, description, schema = ok
    out: dict[str, Any] = {str(status): {"description": description, "content": _json(schema)}}
    texts = {
        400: "Invalid input",
        401: "Missing or invalid bearer token",
        404: "Not found",
        413: "Body too large",
        503: "Store unavailable",
    }
    for code in errors:
        out[str(code)] = {"description": texts[code], "content": _json("Error")}
    return out


def openapi_document(open_health: bool = True, open_metrics: bool = True) -> dict[str, Any]:
    """The OpenAPI 3.1 description of every route (health/metrics security follows the config)."""
    scope_q = _param("scope", "query", "Suppression scope; optional when a single scope is configured.")
    number_p = _param(
        "number",
        "path",
        "Phone number in any usual spelling (E.164 recommended, '+' may be %2B).",
        required=True,
    )
    limit_q = _param(
        "limit",
        "query",
        f"Page size (1-{MAX_LIMIT}).",
        type="integer",
        minimum=1,
        maximum=MAX_LIMIT,
        default=DEFAULT_LIMIT,
    )
    cursor_q = _param("cursor", "query", "next_cursor of the previous page.")
    bearer: list[dict[str, list[str]]] = [{"bearer": []}]
    health_security: list[Any] = [] if open_health else bearer
    metrics_security: list[Any] = [] if open_metrics else bearer
    health_errors = () if open_health else (401,)
    event_types = [t.value for t in EventType]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Stopgate admin API",
            "version": "1",
            "description": "Health, metrics and the opt-out (suppression) list of a Stopgate proxy.",
        },
        "security": bearer,
        "paths": {
            "/healthz": {
                "get": {
                    "summary": "Liveness: the process is up",
                    "security": health_security,
                    "responses": _responses((200, "Up", "Status"), *health_errors),
                }
            },
            "/readyz": {
                "get": {
                    "summary": "Readiness: the store commits and every upstream of a bound account is up",
                    "security": health_security,
                    "responses": {
                        **_responses((200, "Ready", "Readiness"), *health_errors),
                        "503": {"description": "Not ready", "content": _json("Readiness")},
                    },
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "security": metrics_security,
                    "responses": {
                        "200": {
                            "description": "Metrics",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **(
                            {}
                            if open_metrics
                            else {
                                "401": {
                                    "description": "Missing or invalid bearer token",
                                    "content": _json("Error"),
                                }
                            }
                        ),
                    },
                }
            },
            "/v1/suppressions": {
                "get": {
                    "summary": "List opted-out numbers, ordered by scope and number",
                    "parameters": [
                        _param("scope", "query", "Only this scope (default: all)."),
                        limit_q,
                        cursor_q,
                    ],
                    "responses": _responses((200, "One page", "SuppressionPage"), 400, 401, 503),
                },
                "post": {
                    "summary": "Opt a number out (takes effect on the next submit)",
                    "requestBody": {"required": True, "content": _json("NewSuppression")},
                    "responses": {
                        **_responses((201, "Opted out", "SuppressionResult"), 400, 401, 413, 503),
                        "200": {
                            "description": "Already opted out (recorded again)",
                            "content": _json("SuppressionResult"),
                        },
                    },
                },
            },
            "/v1/suppressions/{number}": {
                "get": {
                    "summary": "Whether a number is opted out, since when, how, and its history",
                    "parameters": [number_p, scope_q],
                    "responses": _responses((200, "Opted out", "SuppressionDetail"), 400, 401, 404, 503),
                },
                "delete": {
                    "summary": "Lift an opt-out (a reason is required)",
                    "parameters": [
                        number_p,
                        scope_q,
                        _param("reason", "query", 'Why (or a JSON body {"reason": ...}).'),
                    ],
                    "requestBody": {"required": False, "content": _json("Reason")},
                    "responses": _responses((200, "Removed", "RemovalResult"), 400, 401, 404, 503),
                },
            },
            "/v1/events": {
                "get": {
                    "summary": "The audit log, oldest first",
                    "parameters": [
                        _param("since", "query", "ISO 8601; events at or after (UTC if no zone)."),
                        _param("until", "query", "ISO 8601; events before."),
                        _param("number", "query", "Only this number."),
                        _param("scope", "query", "Only this scope."),
                        {
                            "name": "type",
                            "in": "query",
                            "required": False,
                            "description": "Only these types (repeat or comma-separate).",
                            "schema": {"type": "array", "items": {"type": "string", "enum": event_types}},
                            "style": "form",
                            "explode": True,
                        },
                        limit_q,
                        cursor_q,
                    ],
                    "responses": _responses((200, "One page", "EventPage"), 400, 401, 503),
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "OpenAPI document",
                            "content": {"application/json": {"schema": {"type": "object"}}},
                        }
                    },
                }
            },
            "/docs": {
                "get": {
                    "summary": "Human-readable index of the routes",
                    "security": [],
                    "responses": {
                        "200": {
                            "description": "HTML",
                            "content": {"text/html": {"schema": {"type": "string"}}},
                        }
                    },
                }
            },
        },
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {"error": {"type": "string"}},
                },
                "Status": {"type": "object", "properties": {"status": {"type": "string"}}},
                "Readiness": {
                    "type": "object",
                    "properties": {
                        "status": {"type": "string", "enum": ["ready", "unavailable"]},
                        "error": {"type": "string"},
                        "reasons": {"type": "array", "items": {"type": "string"}},
                        "checks": {"type": "object", "additionalProperties": {"type": "string"}},
                    },
                },
                "Suppression": {
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
                "SuppressionPage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Suppression"}},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
                "NewSuppression": {
                    "type": "object",
                    "required": ["number"],
                    "additionalProperties": False,
                    "properties": {
                        "number": {"type": "string"},
                        "scope": {"type": "string"},
                        "reason": {"type": "string", "maxLength": MAX_REASON},
                    },
                },
                "SuppressionResult": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Suppression"},
                        {
                            "type": "object",
                            "properties": {"created": {"type": "boolean"}, "suppressed": {"type": "boolean"}},
                        },
                    ]
                },
                "SuppressionDetail": {
                    "allOf": [
                        {"$ref": "#/components/schemas/Suppression"},
                        {
                            "type": "object",
                            "properties": {
                                "suppressed": {"type": "boolean"},
                                "history": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                            },
                        },
                    ]
                },
                "Reason": {"type": "object", "properties": {"reason": {"type": "string"}}},
                "RemovalResult": {
                    "type": "object",
                    "properties": {
                        "removed": {"type": "boolean"},
                        "suppressed": {"type": "boolean"},
                        "number": {"type": "string"},
                        "scope": {"type": "string"},
                    },
                },
                "Event": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "ts": {"type": "string", "format": "date-time"},
                        "type": {"type": "string", "enum": event_types},
                        "scope": {"type": "string"},
                        "number": {"type": "string"},
                        "channel": {"type": "string"},
                        "account": {"type": ["string", "null"]},
                        "keyword": {"type": ["string", "null"]},
                        "text": {"type": ["string", "null"]},
                        "message_ids": {"type": "array", "items": {"type": "string"}},
                        "reason": {"type": ["string", "null"]},
                        "campaign": {"type": ["string", "null"]},
                    },
                },
                "EventPage": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": {"$ref": "#/components/schemas/Event"}},
                        "next_cursor": {"type": ["string", "null"]},
                    },
                },
            },
        },
    }
