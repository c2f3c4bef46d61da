"""The OpenAPI 3.1 document, built from the served route list and what each route declares.

``GET /openapi.json`` serves it and ``GET /docs`` a plain HTML index of it. Whether the health routes
and ``/metrics`` need a token follows the config in force, so the document does too.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute

from gateway.config import AdminConfig, configured_scopes
from gateway.ops.admin.auth import Access, needs_token
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.routes import ApiRoute, Operation, Param, Reply, Schema
from gateway.ops.admin.schemas import ERROR

BEARER: list[dict[str, list[str]]] = [{"bearer": []}]

#: The description of each error answer an operation may declare.
ERROR_TEXTS = {
    400: "Invalid input",
    401: "Missing or invalid bearer token",
    404: "Not found",
    413: "Body too large",
    429: "Too many failed authentications from this address (see Retry-After)",
    503: "Store unavailable",
}


def _parameter(param: Param) -> dict[str, Any]:
    return {
        "name": param.name,
        "in": param.where,
        "required": param.required,
        "description": param.description,
        "schema": param.schema,
        **param.extra,
    }


def _content(schema: Schema | dict[str, Any], media_type: str = "application/json") -> dict[str, Any]:
    return {media_type: {"schema": schema.ref if isinstance(schema, Schema) else schema}}


def _operation(op: Operation, admin: AdminConfig, schemas: dict[str, Schema]) -> dict[str, Any]:
    def use(schema: Schema | dict[str, Any]) -> None:
        if isinstance(schema, Schema) and schema.name not in schemas:
            schemas[schema.name] = schema
            for inner in schema.uses:
                use(inner)

    out: dict[str, Any] = {"summary": op.summary}
    # Token routes inherit the document's security; the others say whether the config opens them.
    if op.access is not Access.TOKEN:
        out["security"] = BEARER if needs_token(op.access, admin) else []
    if op.parameters:
        out["parameters"] = [_parameter(p) for p in op.parameters]
    if op.body is not None:
        schema, required = op.body
        use(schema)
        out["requestBody"] = {"required": required, "content": _content(schema)}
    replies: dict[int, Reply] = dict(op.replies)
    errors = (*op.errors, 401, 429) if needs_token(op.access, admin) else op.errors
    for code in errors:
        replies[code] = Reply(ERROR_TEXTS[code], ERROR)
    responses = {}
    for code, reply in sorted(replies.items()):
        use(reply.schema)
        responses[str(code)] = {
            "description": reply.description,
            "content": _content(reply.schema, reply.media_type),
        }
    out["responses"] = responses
    return out


def _scopes_stated(value: Any, scopes: Sequence[str]) -> Any:
    """``value`` with every scope marker (``schemas.SCOPE_INPUT``) replaced by the configured scopes."""
    if isinstance(value, dict):
        if value.get("x-stopgate-scope"):
            return {"type": "string", "enum": list(scopes)} if scopes else {"type": "string", "minLength": 1}
        return {key: _scopes_stated(item, scopes) for key, item in value.items()}
    if isinstance(value, list):
        return [_scopes_stated(item, scopes) for item in value]
    return value


def openapi_document(
    routes: Iterable[BaseRoute], admin: AdminConfig, scopes: Sequence[str] = ()
) -> dict[str, Any]:
    """The OpenAPI 3.1 description of ``routes`` (every one an :class:`ApiRoute`); a scope is one of
    ``scopes`` (the configured ones) when given."""
    schemas: dict[str, Schema] = {}
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        if not isinstance(route, ApiRoute):
            raise TypeError(f"route {route!r} declares no operations to document")
        for method, op in route.operations.items():
            paths.setdefault(route.path, {})[method.lower()] = _operation(op, admin, schemas)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Stopgate admin API",
            "version": "1",
            "description": "Health, metrics and the opt-out (suppression) list of a Stopgate proxy.",
        },
        "security": BEARER,
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {name: schemas[name].body for name in sorted(schemas)},
        },
    }
    return dict(_scopes_stated(document, scopes))


async def openapi_json(context: AdminContext, request: Request) -> Response:
    config = context.config()
    return JSONResponse(openapi_document(request.app.routes, config.admin, configured_scopes(config)))


OPENAPI_JSON = Operation(
    handler=openapi_json,
    summary="This document",
    access=Access.OPEN,
    replies={200: Reply("OpenAPI document", {"type": "object"})},
)


async def docs_page(context: AdminContext, request: Request) -> Response:
    doc = openapi_document(request.app.routes, context.config().admin)
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


DOCS_PAGE = Operation(
    handler=docs_page,
    summary="Human-readable index of the routes",
    access=Access.OPEN,
    replies={200: Reply("HTML", {"type": "string"}, media_type="text/html")},
)
