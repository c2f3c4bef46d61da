"""The admin HTTP API through a real HTTP client, against a running stack (proxy + API in one App)."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio
import httpx
import pytest
from starlette.routing import Route

from gateway.config import AdminConfig
from gateway.metrics import Metrics
from gateway.ops.admin import AdminContext, AdminServer, ReadinessDetail, openapi_document
from gateway.store import ChangeFollower, MemoryStore, SuppressionIndex
from gateway.store.model import StoreError
from tests.esme import Esme
from tests.stack import Stack, make_config, running_stack

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN: dict[str, Any] = {
    "admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [TOKEN, "second-token"]},
    "session": {"shutdown_grace": 0.5},
}


class Api:
    def __init__(self, stack: Stack, client: httpx.AsyncClient) -> None:
        self.stack = stack
        self.client = client

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.get(path, headers=kw.pop("headers", AUTH), **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.post(path, headers=kw.pop("headers", AUTH), **kw)

    async def delete(self, path: str, **kw: Any) -> httpx.Response:
        return await self.client.request("DELETE", path, headers=kw.pop("headers", AUTH), **kw)

    async def add(self, number: str, scope: str = "acme", **extra: Any) -> httpx.Response:
        return await self.post("/v1/suppressions", json={"number": number, "scope": scope, **extra})


async def _api(tmp_path: Path, override: dict[str, Any]) -> AsyncIterator[Api]:
    async with running_stack(tmp_path, override) as stack:
        admin = stack.app.admin
        assert isinstance(admin, AdminServer) and admin.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin.port}", timeout=5) as client:
            yield Api(stack, client)


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async for value in _api(tmp_path, ADMIN):
        yield value


def leave(esme: Esme) -> None:
    """Unbind and disconnect (closing the socket alone may not reach the proxy while smpplib reads)."""
    try:
        esme.unbind()
        esme.wait_closed(2.0)
    finally:
        esme.close()


def assert_error(resp: httpx.Response, status: int, fragment: str = "") -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body["error"], str) and body["error"]
    assert fragment.lower() in body["error"].lower(), body


# -- auth ------------------------------------------------------------------------------------------


async def test_v1_needs_a_valid_bearer_token(api: Api) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": f"Basic {TOKEN}"},
        {"Authorization": "Bearer"},
        {"Authorization": f"Bearer {TOKEN}x"},
    ):
        for method, path in (
            ("GET", "/v1/suppressions"),
            ("POST", "/v1/suppressions"),
            ("GET", "/v1/suppressions/+447700900401"),
            ("DELETE", "/v1/suppressions/+447700900401?reason=x"),
            ("GET", "/v1/events"),
        ):
            resp = await api.client.request(method, path, headers=headers, json={"number": "07700900401"})
            assert_error(resp, 401, "token")
            assert resp.headers["www-authenticate"].startswith("Bearer")
    assert (await api.get("/v1/events", headers={"Authorization": "Bearer second-token"})).status_code == 200
    # Nothing was written by the refused requests.
    assert await api.stack.app.store.events() == []


async def test_health_and_metrics_can_require_a_token(tmp_path: Path) -> None:
    closed = {"admin": {**ADMIN["admin"], "open_health": False, "open_metrics": False}}
    async for api in _api(tmp_path, {**ADMIN, **closed}):
        for path in ("/healthz", "/readyz", "/metrics"):
            assert_error(await api.client.get(path), 401)
            assert (await api.get(path)).status_code == 200
        doc = (await api.client.get("/openapi.json")).json()
        assert doc["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}]


async def test_token_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPGATE_ADMIN_TOKEN", "from-env")
    async for api in _api(tmp_path, {**ADMIN, "admin": {**ADMIN["admin"], "tokens": []}}):
        assert (await api.get("/v1/events", headers={"Authorization": "Bearer from-env"})).status_code == 200
        assert_error(await api.get("/v1/events", headers={"Authorization": f"Bearer {TOKEN}"}), 401)


# -- health, readiness, metrics --------------------------------------------------------------------


async def test_health_readiness_and_metrics(api: Api) -> None:
    assert (await api.client.get("/healthz")).json() == {"status": "ok"}
    ready = await api.client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"

    esme = Esme(api.stack.port)
    await anyio.to_thread.run_sync(esme.bind)
    try:
        resp = await anyio.to_thread.run_sync(esme.submit, "447700900401", "Hello")
        assert resp.status == 0
        ready = await api.client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["checks"]["upstream sim"] == "ok"

        proxy = api.stack.app.proxy
        assert proxy is not None
        [session] = [s for s in proxy.sessions if s.bound]
        real = session.upstream
        session.upstream = SimpleNamespace(closed=True)  # type: ignore[assignment]
        try:
            down = await api.client.get("/readyz")
        finally:
            session.upstream = real
        assert down.status_code == 503
        assert "upstream sim is unreachable (account acme is bound)" in down.json()["error"]

        metrics = await api.client.get("/metrics")
        assert metrics.status_code == 200 and metrics.headers["content-type"].startswith("text/plain")
        text = metrics.text
        assert 'stopgate_bound_sessions{account="acme"} 1.0' in text
        # PDUs by leg, command and status: the submit came in from the ESME and went out upstream.
        assert re.search(
            r'stopgate_pdus_total\{command="submit_sm",direction="in",leg="esme",'
            r'status="0x00000000"\} 1\.0',
            text,
        ), text
        assert re.search(
            r'stopgate_pdus_total\{command="submit_sm_resp",direction="in",leg="upstream:sim",'
            r'status="0x00000000"\} 1\.0',
            text,
        ), text
        for name in (
            "stopgate_pdus_total",
            "stopgate_footers_added_total",
            "stopgate_store_commit_seconds",
            "stopgate_proxy_added_latency_seconds",
            "stopgate_suppressed_numbers",
            "stopgate_store_ready",
        ):
            assert name in text, name
        assert (await api.add("07700900402")).status_code == 201
        text = (await api.client.get("/metrics")).text
        assert 'stopgate_optouts_total{channel="api",scope="acme"} 1.0' in text
        assert "stopgate_suppressed_numbers 1.0" in text
    finally:
        await anyio.to_thread.run_sync(leave, esme)
    for _ in range(100):
        if 'stopgate_bound_sessions{account="acme"} 0.0' in (await api.client.get("/metrics")).text:
            break
        await anyio.sleep(0.02)
    else:
        pytest.fail("bound_sessions did not drop to 0 after the ESME left")


async def test_readiness_reports_a_failing_store(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken() -> None:
        raise StoreError("disk I/O error")

    monkeypatch.setattr(api.stack.app.store, "check_writable", broken)
    resp = await api.client.get("/readyz")
    assert resp.status_code == 503
    assert resp.json()["reasons"] == ["store: disk I/O error"]


# -- suppressions ----------------------------------------------------------------------------------


async def test_add_get_delete_a_suppression(api: Api) -> None:
    created = await api.add("07700 900401", reason="complaint")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["created"] is True and body["number"] == "+447700900401" and body["channel"] == "api"
    assert body["reason"] == "complaint"
    again = await api.add("+447700900401")
    assert again.status_code == 200 and again.json()["created"] is False

    one = await api.get("/v1/suppressions/+447700900401", params={"scope": "acme"})
    assert one.status_code == 200
    detail = one.json()
    assert detail["suppressed"] is True and detail["since"] == body["since"]
    # Issue 18: a repeated POST changes nothing, so it records nothing.
    assert [e["type"] for e in detail["history"]] == ["admin_add"]
    # Issue 18: the token is the operator of the change, not an account.
    assert detail["history"][0]["operator"] == "api:token1" and detail["history"][0]["account"] is None
    # Any usual spelling, '+' percent-encoded or not.
    assert (await api.get("/v1/suppressions/%2B447700900401?scope=acme")).status_code == 200
    assert (await api.get("/v1/suppressions/07700900401?scope=acme")).status_code == 200

    assert_error(
        await api.get("/v1/suppressions/+447700900401", params={"scope": "other"}), 404, "not opted out"
    )
    assert_error(await api.delete("/v1/suppressions/+447700900401?scope=acme"), 400, "reason")
    assert_error(await api.delete("/v1/suppressions/+447700900401?scope=acme&reason=%20"), 400, "reason")
    removed = await api.delete(
        "/v1/suppressions/+447700900401", params={"scope": "acme", "reason": "consent"}
    )
    assert removed.status_code == 200 and removed.json()["removed"] is True
    assert_error(await api.get("/v1/suppressions/+447700900401?scope=acme"), 404)
    assert_error(
        await api.delete("/v1/suppressions/+447700900401?scope=acme&reason=again"), 404, "not opted out"
    )

    # Reason in a JSON body.
    await api.add("07700900402")
    resp = await api.delete("/v1/suppressions/07700900402?scope=acme", json={"reason": "written consent"})
    assert resp.status_code == 200
    events = (await api.get("/v1/events", params={"number": "07700900402"})).json()["items"]
    assert [(e["type"], e["channel"], e["reason"]) for e in events] == [
        ("admin_add", "api", None),
        ("admin_remove", "api", "written consent"),
    ]


async def test_bad_suppression_input_is_4xx(api: Api) -> None:
    bad_bodies: list[tuple[Any, str]] = [
        (b"{not json", "invalid json"),
        (b"[1, 2]", "object"),
        (b"", "body is required"),
        ({"scope": "acme"}, "'number' is required"),
        ({"number": 447700900401, "scope": "acme"}, "must be a string"),
        ({"number": "hello", "scope": "acme"}, "not a phone number"),
        ({"number": "12", "scope": "acme"}, "not a phone number"),
        ({"number": "07700900401", "scope": "nope"}, "unknown scope"),
        ({"number": "07700900401"}, "several scopes"),
        ({"number": "07700900401", "scope": "acme", "colour": "red"}, "unknown field"),
        ({"number": "07700900401", "scope": "acme", "reason": "x" * 5000}, "longer"),
        ({"number": "07700900401", "scope": "acme", "reason": ["a"]}, "must be a string"),
    ]
    for body, fragment in bad_bodies:
        if isinstance(body, bytes):
            resp = await api.post(
                "/v1/suppressions", content=body, headers={**AUTH, "content-type": "application/json"}
            )
        else:
            resp = await api.post("/v1/suppressions", json=body)
        assert_error(resp, 400, fragment)
    big = await api.post("/v1/suppressions", content=b" " * 70000, headers=AUTH)
    assert_error(big, 413)
    assert_error(await api.get("/v1/suppressions/not-a-number?scope=acme"), 400, "not a phone number")
    assert_error(await api.get("/v1/suppressions/+447700900401"), 400, "several scopes")
    for query in (
        "limit=0",
        "limit=1001",
        "limit=abc",
        "limit=-1",
        "cursor=%%%",
        "cursor=bm90IGpzb24",
        "cursor=WzFd",
        "scope=nope",
    ):
        assert_error(await api.get(f"/v1/suppressions?{query}"), 400)
    assert_error(await api.client.get("/nowhere"), 404)
    assert_error(await api.client.put("/v1/suppressions", headers=AUTH), 405)
    assert await api.stack.app.store.events() == []


async def test_list_pagination_and_scope_filter(api: Api) -> None:
    numbers = [f"+44770090{n:04d}" for n in (5, 1, 4, 2, 3)]
    for number in numbers:
        assert (await api.add(number)).status_code == 201
    assert (await api.add("+447700900009", scope="other")).status_code == 201

    seen: list[tuple[str, str]] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/v1/suppressions", params=params)).json()
        pages += 1
        seen += [(item["scope"], item["number"]) for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == [("acme", n) for n in sorted(numbers)] + [("other", "+447700900009")]

    acme = (await api.get("/v1/suppressions", params={"scope": "acme", "limit": 3})).json()
    assert [i["number"] for i in acme["items"]] == sorted(numbers)[:3]
    rest = (await api.get("/v1/suppressions", params={"scope": "acme", "cursor": acme["next_cursor"]})).json()
    assert [i["number"] for i in rest["items"]] == sorted(numbers)[3:] and rest["next_cursor"] is None
    other = (await api.get("/v1/suppressions", params={"scope": "other"})).json()
    assert [i["number"] for i in other["items"]] == ["+447700900009"]


# -- events ----------------------------------------------------------------------------------------


async def test_events_filters_and_pagination(api: Api) -> None:
    for n in range(1, 6):
        await api.add(f"0770090010{n}")
    await api.delete("/v1/suppressions/07700900101?scope=acme&reason=r")
    await api.add("07700900101", scope="other")

    everything = (await api.get("/v1/events", params={"limit": 1000})).json()
    assert len(everything["items"]) == 7 and everything["next_cursor"] is None
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids)

    walked: list[int] = []
    cursor = None
    while True:
        page = (
            await api.get("/v1/events", params={"limit": 3, **({"cursor": cursor} if cursor else {})})
        ).json()
        walked += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert walked == ids

    by_number = (await api.get("/v1/events", params={"number": "+447700900101"})).json()["items"]
    assert [(e["type"], e["scope"]) for e in by_number] == [
        ("admin_add", "acme"),
        ("admin_remove", "acme"),
        ("admin_add", "other"),
    ]
    scoped = (await api.get("/v1/events", params={"number": "07700900101", "scope": "other"})).json()["items"]
    assert len(scoped) == 1
    removes = (await api.get("/v1/events", params={"type": "admin_remove"})).json()["items"]
    assert [e["reason"] for e in removes] == ["r"]
    both = (await api.get("/v1/events?type=admin_remove&type=opt_out")).json()["items"]
    assert len(both) == 1
    comma = (await api.get("/v1/events?type=admin_remove,admin_add")).json()["items"]
    assert len(comma) == 7

    now = datetime.now(UTC)
    future = (now + timedelta(hours=1)).isoformat()
    past = (now - timedelta(hours=1)).isoformat()
    assert (await api.get("/v1/events", params={"since": future})).json()["items"] == []
    assert len((await api.get("/v1/events", params={"since": past, "until": future})).json()["items"]) == 7
    assert (await api.get("/v1/events", params={"until": past})).json()["items"] == []
    assert len((await api.get("/v1/events", params={"since": now.date().isoformat()})).json()["items"]) == 7

    for query in (
        "since=yesterday",
        "until=2024-13-01",
        "type=nonsense",
        "number=abc",
        "limit=0",
        "cursor=abc",
        "cursor=Ii0xIg",
        "cursor=OTk5OTk5OTk5OTk5OTk5OTk5OTk5OTk",
        "scope=nope",
    ):
        assert_error(await api.get(f"/v1/events?{query}"), 400)


# -- errors and documentation ----------------------------------------------------------------------


async def test_unexpected_errors_are_json_500(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("bug")

    monkeypatch.setattr(api.stack.app.store, "list_suppressions", boom)
    assert_error(await api.get("/v1/suppressions"), 500, "internal error")


async def test_store_failure_is_503(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(*args: Any, **kwargs: Any) -> None:
        raise StoreError("database is locked")

    monkeypatch.setattr(api.stack.app.store, "opt_out", down)
    assert_error(await api.add("07700900401"), 503, "database is locked")


async def test_openapi_document_covers_every_route_and_each_responds(api: Api) -> None:
    doc = (await api.client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    admin = api.stack.app.admin
    served = {
        (route.path, method)
        for route in admin.asgi.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    assert documented == served

    await api.add("07700900401")
    examples: dict[tuple[str, str], dict[str, Any]] = {
        ("/v1/suppressions", "POST"): {"json": {"number": "07700900402", "scope": "acme"}},
        ("/v1/suppressions/{number}", "GET"): {"params": {"scope": "acme"}},
        ("/v1/suppressions/{number}", "DELETE"): {"params": {"scope": "acme", "reason": "docs"}},
        ("/v1/consents", "POST"): {"json": {"number": "07700900402", "scope": "acme", "source": "api"}},
        ("/v1/consents/{number}", "GET"): {"params": {"scope": "acme"}},
        ("/v1/redactions", "POST"): {"json": {"number": "07700900409"}},
        ("/v1/lockouts", "DELETE"): {"params": {"ip": "127.0.0.1"}},
    }
    order = {"GET": 0, "POST": 1, "DELETE": 2}  # delete the example number last
    for path, method in sorted(documented, key=lambda pm: (order[pm[1]], pm[0])):
        url = path.replace("{number}", "+447700900401")
        resp = await api.client.request(method, url, headers=AUTH, **examples.get((path, method), {}))
        op = doc["paths"][path][method.lower()]
        assert str(resp.status_code) in op["responses"], (path, method, resp.status_code)
        assert resp.status_code < 300, (path, method, resp.text)
        content = op["responses"][str(resp.status_code)]["content"]
        assert resp.headers["content-type"].split(";")[0] in content, (path, method)
        if op.get("security", doc["security"]):
            assert_error(await api.client.request(method, url, **examples.get((path, method), {})), 401)

    docs = await api.client.get("/docs")
    assert docs.status_code == 200 and "/v1/suppressions/{number}" in docs.text


# -- the API on its own: only its context, no App, no proxy ----------------------------------------


def _detached(
    tmp_path: Path, readiness: tuple[bool, ReadinessDetail]
) -> tuple[AdminServer, SuppressionIndex]:
    store = MemoryStore()
    index = SuppressionIndex()
    config = make_config(tmp_path, 2775, ADMIN)
    context = AdminContext(
        store=store,
        feed=ChangeFollower(store, index, after_id=0),
        metrics=Metrics(),
        config=lambda: config,
        readiness=lambda: readiness,
    )
    return AdminServer(context), index


async def test_the_api_serves_from_its_context_alone(tmp_path: Path) -> None:
    down: ReadinessDetail = {"checks": {"upstream sim": "unreachable"}, "reasons": ["upstream sim is down"]}
    server, index = _detached(tmp_path, (False, down))
    await server.context.store.open()
    transport = httpx.ASGITransport(app=server.asgi)
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as client:
        ready = await client.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"store": "ok", "upstream sim": "unreachable"}
        assert ready.json()["reasons"] == ["upstream sim is down"]
        added = await client.post(
            "/v1/suppressions", json={"number": "07700900401", "scope": "acme"}, headers=AUTH
        )
        assert added.status_code == 201, added.text
        assert index.contains("acme", "+447700900401")  # applied before the answer


async def test_openapi_document_follows_the_route_table_under_every_config(tmp_path: Path) -> None:
    server, _ = _detached(tmp_path, (True, {"checks": {}, "reasons": []}))
    served = {
        (route.path, method)
        for route in server.asgi.routes
        if isinstance(route, Route)
        for method in (route.methods or set()) - {"HEAD"}
    }
    for open_health in (True, False):
        for open_metrics in (True, False):
            doc = openapi_document(
                server.asgi.routes, AdminConfig(open_health=open_health, open_metrics=open_metrics)
            )
            documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
            assert documented == served
            schemas = doc["components"]["schemas"]
            text = repr(doc)
            refs = set(re.findall(r"#/components/schemas/(\w+)", text))
            assert refs == set(schemas), "every reference resolves and every schema is used"
            for path, ops in doc["paths"].items():
                for op in ops.values():
                    secured = bool(op.get("security", doc["security"]))
                    assert ("401" in op["responses"]) is secured, path
            opened = {"/healthz": open_health, "/readyz": open_health, "/metrics": open_metrics}
            for path, is_open in opened.items():
                assert doc["paths"][path]["get"]["security"] == ([] if is_open else [{"bearer": []}])


def test_the_admin_api_does_not_import_the_app_or_the_proxy() -> None:
    code = (
        "import sys, gateway.ops.admin; "
        "print(sorted(m for m in sys.modules if m.startswith(('gateway.app', 'gateway.proxy'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
