"""The HTTP plumbing every admin route shares: JSON errors, request bodies, query values and cursors.

Every error is a JSON body ``{"error": "..."}``: a handler raises :class:`ApiError` (or lets an
``InvalidNumber`` or ``StoreError`` through) and :func:`answer_errors` turns it into the response:
4xx for bad input, 503 when the store fails.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import structlog
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.numbers import InvalidNumber
from gateway.ops.records import parse_iso
from gateway.store import StoreError

log = structlog.get_logger("stopgate.admin")

#: Page sizes accepted by the list routes.
MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_BODY = 64 * 1024
MAX_REASON = 1000

#: A Starlette endpoint: one request in, one response out.
Endpoint = Callable[[Request], Awaitable[Response]]

BAD_CURSOR = "invalid cursor (pass next_cursor from the previous page unchanged)"


class ApiError(Exception):
    """Answered as ``{"error": message, **extra}`` with ``status``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.extra = extra


def error_response(
    status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status, headers=headers)


def answer_errors(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` with the errors a handler may raise answered as JSON (anything else is a 500)."""

    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            return error_response(exc.status, exc.message, **exc.extra)
        except InvalidNumber as exc:
            return error_response(400, str(exc))
        except StoreError as exc:
            log.warning("store error in the admin API", error=str(exc))
            return error_response(503, f"store unavailable: {exc}")

    return answered


# -- cursors -------------------------------------------------------------------------------------


def encode_cursor(value: Any) -> str:
    """An opaque page cursor: the JSON of ``value``, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError):
        raise ApiError(400, BAD_CURSOR) from None


# -- query values --------------------------------------------------------------------------------


def query_limit(request: Request) -> int:
    """``?limit=``: a page size from 1 to :data:`MAX_LIMIT` (default :data:`DEFAULT_LIMIT`)."""
    raw = request.query_params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isascii() or not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise ApiError(400, f"limit must be an integer from 1 to {MAX_LIMIT}, got {raw!r}")
    return int(raw)


def query_time(request: Request, name: str) -> datetime | None:
    """``?name=``: an ISO 8601 date or date-time (UTC if no zone), or None when absent."""
    raw = request.query_params.get(name)
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}") from None


# -- JSON bodies ---------------------------------------------------------------------------------


async def json_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (at most :data:`MAX_BODY` bytes); ``{}`` for an empty optional body."""
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


def string_field(data: dict[str, Any], name: str, *, required: bool = False) -> str | None:
    """``data[name]`` if it is a string (a ``reason`` at most :data:`MAX_REASON` characters)."""
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
