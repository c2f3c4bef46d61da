"""The HTTP plumbing every admin route shares: JSON errors, request bodies, query values and cursors.

Every error is a JSON body ``{"error": "..."}``: a handler raises :class:`ApiError` (or lets an
``InvalidNumber`` or ``StoreError`` through) and :func:`answer_errors` turns it into the response:
4xx for bad input, 503 when the store fails, 500 for a bug. Each error writes exactly one log line
and never a traceback: the JSON log is read line by line, and a client must not be able to flood it.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
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
#: The longest cursor accepted (ours are a few dozen characters).
MAX_CURSOR = 512
MAX_REASON = 1000

#: A Starlette endpoint: one request in, one response out.
Endpoint = Callable[[Request], Awaitable[Response]]

#: A phone number as the API accepts it (the OpenAPI document states the same pattern): digits and the
#: usual separators, an optional leading "+"; :func:`gateway.numbers.parse_user_number` does the rest.
NUMBER_PATTERN = r"^[ (]*\+?[0-9 ().\-/]*[0-9][0-9 ().\-/]*$"
MAX_NUMBER = 64
#: ``?since=`` / ``?until=``: a date, or a date-time with optional seconds, fraction and zone.
TIME_PATTERN = (
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.,][0-9]{1,6})?)?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?)?$"
)

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


def refused(request: Request, status: int, message: str) -> None:
    """The one log line of a request answered with a 4xx (the message never repeats a token)."""
    log.info(
        "admin API request refused",
        method=request.method,
        path=request.url.path,
        status=status,
        client=client_address(request),
        error=message[:200],
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client is not None else "-"


def answer_errors(endpoint: Endpoint) -> Endpoint:
    """``endpoint`` with every error it may raise answered as JSON, with one log line each.

    Anything unexpected is a 500 answered here, not re-raised: Starlette's outermost middleware would
    otherwise hand it to uvicorn, which logs a multi-line traceback.
    """

    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except ApiError as exc:
            refused(request, exc.status, exc.message)
            return error_response(exc.status, exc.message, **exc.extra)
        except InvalidNumber as exc:
            refused(request, 400, str(exc))
            return error_response(400, str(exc))
        except StoreError as exc:
            log.warning("store error in the admin API", path=request.url.path, error=str(exc))
            return error_response(503, f"store unavailable: {exc}")
        except Exception as exc:
            log.error(
                "admin API request failed",
                method=request.method,
                path=request.url.path,
                error=f"{type(exc).__name__}: {exc}"[:500],
            )
            return error_response(500, "internal error")

    return answered


# -- cursors -------------------------------------------------------------------------------------


def encode_cursor(value: Any) -> str:
    """An opaque page cursor: the JSON of ``value``, base64url without padding."""
    return base64.urlsafe_b64encode(json.dumps(value, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(text: str) -> Any:
    # Our cursors are short; a long one is not ours (and a deeply nested one would recurse in json).
    if len(text) > MAX_CURSOR:
        raise ApiError(400, BAD_CURSOR)
    try:
        padded = text + "=" * (-len(text) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise ApiError(400, BAD_CURSOR) from None


def event_cursor(cursor: str | None) -> int:
    """The event id a page of events starts after (0 without a cursor)."""
    if cursor is None:
        return 0
    value = decode_cursor(cursor)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2**63:
        raise ApiError(400, BAD_CURSOR)
    return value


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
    if not re.fullmatch(TIME_PATTERN, raw):
        raise ApiError(
            400, f"{name}: not an ISO 8601 date or date-time: {raw[:40]!r} (e.g. 2024-05-01T12:00Z)"
        )
    try:
        return parse_iso(raw)
    except ValueError as exc:
        raise ApiError(400, f"{name}: {exc}") from None


# -- JSON bodies ---------------------------------------------------------------------------------


TOO_LARGE = f"request body larger than {MAX_BODY} bytes"


async def read_body(request: Request) -> bytes:
    """The body, at most :data:`MAX_BODY` bytes: refused from ``Content-Length`` before reading, and
    reading stops as soon as a body without one (chunked) goes over, so a large body is never held
    in the memory of the process that carries the SMPP traffic."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not (declared.isascii() and declared.isdigit()):
            raise ApiError(400, "invalid Content-Length header")
        if int(declared) > MAX_BODY:
            raise ApiError(413, TOO_LARGE)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise ApiError(413, TOO_LARGE)
        chunks.append(chunk)
    return b"".join(chunks)


async def json_body(request: Request, *, optional: bool = False) -> dict[str, Any]:
    """The request's JSON object (at most :data:`MAX_BODY` bytes); ``{}`` for an empty optional body."""
    body = await read_body(request)
    if not body.strip():
        if optional:
            return {}
        raise ApiError(400, "a JSON object body is required")
    try:
        data = json.loads(body)
    except RecursionError:
        raise ApiError(400, "invalid JSON body: nested too deeply") from None
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
