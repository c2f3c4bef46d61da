"""A route and what it declares about itself: the handler, who may call it, and its OpenAPI description.

Each handler module declares an :class:`Operation` next to each handler (parameters, request body,
answers as small data); the route table in ``server.py`` binds them to paths as :class:`ApiRoute`, and
``openapi.py`` builds the document by walking that same route list, so a route cannot be served
without being documented, nor documented without being served.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.ops.admin.auth import Access, protect
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.http import ApiError, Endpoint, answer_errors

#: A route handler: the context it serves and the request.
Handler = Callable[[AdminContext, Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Schema:
    """A named JSON schema (``#/components/schemas/<name>``); ``uses`` are the schemas it refers to."""

    name: str
    body: dict[str, Any]
    uses: tuple[Schema, ...] = ()

    @property
    def ref(self) -> dict[str, str]:
        return {"$ref": f"#/components/schemas/{self.name}"}


@dataclass(frozen=True, kw_only=True, slots=True)
class Param:
    """A query or path parameter."""

    name: str
    where: str  # "query" or "path"
    description: str
    required: bool = False
    schema: dict[str, Any] = field(default_factory=lambda: {"type": "string"})
    #: More OpenAPI fields (``style``, ``explode``).
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply:
    """One answer: a named schema (JSON) or an inline one in ``media_type``."""

    description: str
    schema: Schema | dict[str, Any]
    media_type: str = "application/json"


@dataclass(frozen=True, kw_only=True, slots=True)
class Operation:
    """One method of one route."""

    handler: Handler
    summary: str
    access: Access
    parameters: tuple[Param, ...] = ()
    #: The JSON request body's schema, and whether a body is required.
    body: tuple[Schema, bool] | None = None
    #: The answers this handler itself returns, by status.
    replies: Mapping[int, Reply]
    #: Error answers (``{"error"}`` bodies) it may return; 401 is added wherever a token is needed.
    errors: tuple[int, ...] = ()


class ApiRoute(Route):
    """A Starlette route serving one :class:`Operation` per method (HEAD is answered as GET)."""

    def __init__(self, path: str, operations: Mapping[str, Operation], context: AdminContext) -> None:
        self.operations = dict(operations)
        endpoints = {
            method: protect(context, op.access, answer_errors(_known_query(op, partial(op.handler, context))))
            for method, op in self.operations.items()
        }

        async def endpoint(request: Request) -> Response:
            return await (endpoints.get(request.method) or endpoints["GET"])(request)

        super().__init__(path, endpoint, methods=list(self.operations), name=path)


def _known_query(op: Operation, endpoint: Endpoint) -> Endpoint:
    """``endpoint`` refusing query parameters ``op`` does not declare: a misspelt filter
    (``?scop=acme``) would otherwise be ignored and the answer silently cover everything."""
    known = {p.name for p in op.parameters if p.where == "query"}

    async def checked(request: Request) -> Response:
        unknown = sorted(set(request.query_params) - known)
        if unknown:
            expected = ", ".join(sorted(known)) or "none"
            raise ApiError(
                400, f"unknown query parameter(s): {', '.join(unknown)[:100]} (expected: {expected})"
            )
        return await endpoint(request)

    return checked
