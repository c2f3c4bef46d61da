"""Issue 18: the admin API answers every bad input with a 4xx JSON body and one log line (items 1, 11
and 12): dates that overflow, nesting that recurses, bodies limited while they are read, failed
authentication logged and rate-limited per address, a repeated POST that records nothing, and the
blocked messages of a number paged after its opt-out history."""

from __future__ import annotations

import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from structlog.testing import capture_logs

from gateway.ops.admin import AdminContext, AdminServer, openapi_document
from gateway.ops.admin.http import MAX_BODY, ApiError, read_body
from gateway.ops.admin.ratelimit import AuthFailures
from gateway.store import MemoryStore
from gateway.store.model import Channel, Event, EventType
from tests.stack import make_config
from tools.console_client import admin_context

pytestmark = pytest.mark.anyio

TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
ADMIN: dict[str, Any] = {"admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [TOKEN]}}


class Client:
    def __init__(self, http: httpx.AsyncClient, store: MemoryStore, context: AdminContext) -> None:
        self.http = http
        self.store = store
        self.context = context


async def _client(tmp_path: Path, *, failures: AuthFailures | None = None) -> AsyncIterator[Client]:
    store = MemoryStore()
    await store.open()
    config = make_config(tmp_path, 2775, ADMIN)
    context = admin_context(store, config, auth_failures=failures or AuthFailures())
    transport = httpx.ASGITransport(app=AdminServer(context).asgi, client=("203.0.113.7", 4000))
    async with httpx.AsyncClient(transport=transport, base_url="http://admin") as http:
        yield Client(http, store, context)


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[Client]:
    async for value in _client(tmp_path):
        yield value


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


async def answered_4xx(client: Client, status: int, method: str, url: str, **kw: Any) -> dict[str, Any]:
    """The request is answered ``status`` with a JSON error, and writes exactly one log line."""
    with capture_logs() as logs:
        resp = await client.http.request(method, url, **kw)
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    body = resp.json()
    assert isinstance(body["error"], str) and body["error"]
    assert len(logs) == 1, logs
    assert "exc_info" not in logs[0] and "Traceback" not in repr(logs[0])
    return dict(body)


async def test_dates_that_overflow_are_400(client: Client) -> None:
    for query in ("since=0001-01-01T00:00:00%2B01:00", "until=9999-12-31T23:59:59-01:00"):
        body = await answered_4xx(client, 400, "GET", f"/v1/events?{query}", headers=AUTH)
        assert "range" in body["error"]
    ok = await client.http.get("/v1/events?since=0001-01-01&until=9999-12-31T23:59:59Z", headers=AUTH)
    assert ok.status_code == 200


async def test_deep_nesting_is_400_not_a_recursion_error(client: Client) -> None:
    import base64

    cursor = base64.urlsafe_b64encode(nested(5000).encode()).decode()
    for path in ("/v1/events", "/v1/suppressions", "/v1/suppressions/+447700900401"):
        await answered_4xx(client, 400, "GET", path, params={"cursor": cursor, "scope": "acme"}, headers=AUTH)
    body = '{"number": ' + nested(5000) + "}"
    headers = {**AUTH, "content-type": "application/json"}
    await answered_4xx(client, 400, "POST", "/v1/suppressions", content=body, headers=headers)
    await answered_4xx(
        client, 400, "DELETE", "/v1/suppressions/+447700900401?scope=acme", content=body, headers=headers
    )


async def test_unknown_query_parameters_and_bad_values_are_400(client: Client) -> None:
    for url in (
        "/v1/suppressions?scop=acme",
        "/v1/suppressions?scope=",
        "/v1/suppressions?cursor=",
        "/v1/events?number=",
        "/v1/events?since=yesterday",
        "/v1/suppressions/%EF%BC%91%EF%BC%92?scope=acme",  # full-width digits: outside the pattern
        "/v1/suppressions/" + "1" * 65 + "?scope=acme",
    ):
        await answered_4xx(client, 400, "GET", url, headers=AUTH)


async def test_a_body_is_refused_from_its_declared_length_before_it_is_read(client: Client) -> None:
    headers = {**AUTH, "content-type": "application/json", "content-length": str(200 * 1024 * 1024)}
    # Only 2 bytes follow: the server must answer without waiting for the 200 MB it was promised.
    await answered_4xx(client, 413, "POST", "/v1/suppressions", content=b"{}", headers=headers)


async def test_reading_a_body_without_a_length_stops_at_the_limit() -> None:
    """A chunked 200 MB body: ``read_body`` pulls at most one chunk past the limit, then refuses."""
    chunk = b" " * 65536
    pulled = 0

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        return {"type": "http.request", "body": chunk, "more_body": pulled < 3200}  # 200 MB in all

    from starlette.requests import Request

    request = Request({"type": "http", "method": "POST", "headers": [], "path": "/"}, receive)
    with pytest.raises(ApiError) as raised:
        await read_body(request)
    assert raised.value.status == 413
    assert pulled * len(chunk) <= MAX_BODY + len(chunk)


def test_a_large_body_over_a_real_socket_is_refused_without_being_sent(tmp_path: Path) -> None:
    """The real server (uvicorn): a 200 MB Content-Length is answered 413 after its headers alone."""
    import anyio

    async def main() -> None:
        async for c in _client(tmp_path):
            server = AdminServer(c.context)
            async with anyio.create_task_group() as tg:
                await tg.start(server.serve)
                assert server.port is not None
                port = server.port

                def exchange(port: int = port) -> bytes:
                    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                        sock.sendall(
                            b"POST /v1/suppressions HTTP/1.1\r\nHost: x\r\n"
                            + f"Authorization: Bearer {TOKEN}\r\n".encode()
                            + b"Content-Type: application/json\r\nContent-Length: 209715200\r\n\r\n{"
                        )
                        return sock.recv(4096)

                reply = await anyio.to_thread.run_sync(exchange)
                assert reply.startswith(b"HTTP/1.1 413"), reply
                await server.stop()
                tg.cancel_scope.cancel()

    anyio.run(main)


async def test_failed_authentication_is_logged_without_the_token_and_rate_limited(tmp_path: Path) -> None:
    clock = [1000.0]
    failures = AuthFailures(limit=3, window=60.0, clock=lambda: clock[0])
    async for client in _client(tmp_path, failures=failures):
        with capture_logs() as logs:
            for _ in range(3):
                resp = await client.http.get("/v1/events", headers={"Authorization": "Bearer guess-123"})
                assert resp.status_code == 401
        failed = [e for e in logs if e["event"] == "admin authentication failed"]
        assert len(failed) == 3 and failed[0]["client"] == "203.0.113.7"
        assert failed[0]["log_level"] == "warning"
        assert "guess-123" not in repr(logs)
        # Past the limit every token route is 429 for this address, even with the right token.
        for headers in ({"Authorization": "Bearer guess-124"}, AUTH):
            limited = await client.http.get("/v1/suppressions", headers=headers)
            assert limited.status_code == 429 and 1 <= int(limited.headers["retry-after"]) <= 60
            assert "too many" in limited.json()["error"]
        # The open routes stay open; another address is not limited; the limit lifts with time.
        assert (await client.http.get("/healthz")).status_code == 200
        assert failures.retry_after("198.51.100.1") is None
        clock[0] += 61
        assert (await client.http.get("/v1/events", headers=AUTH)).status_code == 200


def test_auth_failures_are_bounded_in_memory() -> None:
    failures = AuthFailures(limit=2, max_clients=100)
    for i in range(1000):
        failures.failed(f"10.0.{i // 256}.{i % 256}")
    assert len(failures._failures) == 100


async def test_a_repeated_post_records_nothing(client: Client) -> None:
    first = await client.http.post(
        "/v1/suppressions", json={"number": "07700900401", "scope": "acme"}, headers=AUTH
    )
    assert first.status_code == 201
    again = await client.http.post(
        "/v1/suppressions", json={"number": "+447700900401", "scope": "acme"}, headers=AUTH
    )
    assert again.status_code == 200 and again.json()["created"] is False
    assert again.json()["since"] == first.json()["since"]
    events = await client.store.events()
    assert [e.type for e in events] == [EventType.ADMIN_ADD]


async def test_blocked_messages_are_paged_after_the_opt_out_history(client: Client) -> None:
    await client.http.post("/v1/suppressions", json={"number": "07700900401", "scope": "acme"}, headers=AUTH)
    blocked = [
        Event(
            type=EventType.BLOCKED, number="+447700900401", scope="acme", channel=Channel.SMS, account="acme"
        )
        for _ in range(5)
    ]
    await client.store.append_events(blocked)
    url = "/v1/suppressions/+447700900401"
    page = (await client.http.get(url, params={"scope": "acme", "limit": 2}, headers=AUTH)).json()
    assert [e["type"] for e in page["history"]] == ["admin_add"]
    seen = [e["id"] for e in page["blocked"]["items"]]
    assert len(seen) == 2
    while page["blocked"]["next_cursor"]:
        params = {"scope": "acme", "limit": 2, "cursor": page["blocked"]["next_cursor"]}
        page = (await client.http.get(url, params=params, headers=AUTH)).json()
        seen += [e["id"] for e in page["blocked"]["items"]]
    assert len(seen) == 5 and seen == sorted(seen)
    assert all(e["type"] == "admin_add" for e in page["history"])


async def test_the_openapi_document_states_what_the_server_enforces(client: Client) -> None:
    doc = (await client.http.get("/openapi.json")).json()
    params = {p["name"]: p for p in doc["paths"]["/v1/events"]["get"]["parameters"]}
    assert params["scope"]["schema"] == {"type": "string", "enum": ["acme", "other"]}
    assert params["number"]["schema"]["pattern"] and params["number"]["schema"]["minLength"] == 1
    assert params["since"]["schema"]["pattern"] and params["cursor"]["schema"]["minLength"] == 1
    new = doc["components"]["schemas"]["NewSuppression"]["properties"]
    assert new["reason"]["type"] == ["string", "null"] and new["number"]["pattern"]
    assert {"401", "429"} <= set(doc["paths"]["/v1/suppressions"]["get"]["responses"])
    assert "413" in doc["paths"]["/v1/suppressions/{number}"]["delete"]["responses"]
    # Without a config at hand, a scope is any non-empty string.
    bare = openapi_document([], client.context.config().admin)
    assert json.dumps(bare)  # serialisable


async def test_a_200_mb_body_does_not_grow_the_process(tmp_path: Path) -> None:
    """A real `stopgate run`: 200 MB bodies (chunked, and with Content-Length) sent with a valid token
    are answered 413 and the process's peak memory barely moves (it was +390 MB before the fix)."""
    from anyio import to_thread

    from tests.config_file import write_config
    from tools.ports import free_port
    from tools.stopgate_process import stopgate_process

    port, admin = free_port(), free_port()
    override = {"listen": {"port": port}, "admin": {**ADMIN["admin"], "listen": f"127.0.0.1:{admin}"}}
    config = write_config(tmp_path / "stopgate.toml", free_port(), override)

    def peak_kb(pid: int) -> int:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise AssertionError("no VmHWM")

    def send(chunked: bool) -> bytes:
        with socket.create_connection(("127.0.0.1", admin), timeout=10) as sock:
            head = f"POST /v1/suppressions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
            head += "Transfer-Encoding: chunked\r\n\r\n" if chunked else "Content-Length: 209715200\r\n\r\n"
            sock.sendall(head.encode())
            chunk = b" " * (1 << 20)
            try:
                for _ in range(200):
                    sock.sendall(b"100000\r\n" + chunk + b"\r\n" if chunked else chunk)
            except OSError:
                pass  # the server may close once it has answered
            return sock.recv(100)

    async with stopgate_process(config, port, admin_port=admin) as process:
        before = peak_kb(process.pid)
        for chunked in (True, False):
            reply = await to_thread.run_sync(send, chunked)
            assert reply.startswith(b"HTTP/1.1 413"), reply
        assert peak_kb(process.pid) - before < 32 * 1024
