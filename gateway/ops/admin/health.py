"""``/healthz`` (the process is up), ``/readyz`` (the store commits and every upstream of a bound
account is up) and ``/metrics`` (Prometheus text format)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from gateway.ops.admin.auth import Access
from gateway.ops.admin.context import AdminContext
from gateway.ops.admin.routes import Operation, Reply, Schema
from gateway.store import StoreError

STATUS = Schema("Status", {"type": "object", "properties": {"status": {"type": "string"}}})
READINESS = Schema(
    "Readiness",
    {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ready", "unavailable"]},
            "error": {"type": "string"},
            "reasons": {"type": "array", "items": {"type": "string"}},
            "checks": {"type": "object", "additionalProperties": {"type": "string"}},
        },
    },
)


async def healthz(context: AdminContext, request: Request) -> Response:
    return JSONResponse({"status": "ok"})


HEALTHZ = Operation(
    handler=healthz,
    summary="Liveness: the process is up",
    access=Access.HEALTH,
    replies={200: Reply("Up", STATUS)},
)


async def readyz(context: AdminContext, request: Request) -> Response:
    checks: dict[str, str] = {}
    problems: list[str] = []
    try:
        await context.store.check_writable()
        checks["store"] = "ok"
    except StoreError as exc:
        checks["store"] = "failed"
        problems.append(f"store: {exc}")
    ok, detail = context.readiness()
    checks.update(detail["checks"])
    problems.extend(detail["reasons"])
    if problems or not ok:
        unique = list(dict.fromkeys(problems)) or ["not ready"]
        return JSONResponse(
            {"status": "unavailable", "error": "; ".join(unique), "reasons": unique, "checks": checks},
            status_code=503,
        )
    return JSONResponse({"status": "ready", "checks": checks})


READYZ = Operation(
    handler=readyz,
    summary="Readiness: the store commits and every upstream of a bound account is up",
    access=Access.HEALTH,
    replies={200: Reply("Ready", READINESS), 503: Reply("Not ready", READINESS)},
)


async def metrics(context: AdminContext, request: Request) -> Response:
    scrape = context.scrape
    body = await scrape() if scrape is not None else generate_latest(context.metrics.registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)


METRICS = Operation(
    handler=metrics,
    summary="Prometheus metrics (text exposition format)",
    access=Access.METRICS,
    replies={200: Reply("Metrics", {"type": "string"}, media_type="text/plain")},
)
