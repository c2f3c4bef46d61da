"""Issue 16 from the operator's side: the CLI commands (real subprocesses) and the admin routes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest

from gateway.ops.admin import AdminServer
from gateway.store import REDACTED, Channel, DeadLetter, Event, EventType
from tests.config_file import write_config
from tests.stack import running_stack
from tests.test_cli import events_of, read_export, stopgate, store_of, write_csv

A = "+447700900401"
B = "+447700900402"
TOKEN = "s3cret-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
HOOK = {"name": "crm", "url": "http://127.0.0.1:9/hook", "secret": "k", "events": ["opt_out", "consent"]}


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stopgate.toml", 2776, {"webhook": [HOOK]})


def seed(config_path: Path, *events: Event) -> None:
    async def main() -> None:
        async with store_of(config_path) as store:
            for event in events:
                await store.opt_out(event)

    anyio.run(main)


def stop(number: str, text: str = "STOP") -> Event:
    return Event(
        type=EventType.OPT_OUT, number=number, scope="acme", channel=Channel.SMS, keyword="STOP", text=text
    )


def test_consent_import_status_and_audit_export(config: Path, tmp_path: Path) -> None:
    csv_file = write_csv(
        tmp_path / "consents.csv",
        "number,scope,source,wording,time,ip,form_id\n"
        "07700900401,acme,web_form,Send me offers,2024-05-01T10:00Z,192.0.2.7,signup\n"
        "07700900402,acme,paper,Signed leaflet,,,\n",
    )
    proc = stopgate("consent", "import", csv_file, config=config)
    assert proc.returncode == 0, proc.stderr
    assert "imported 2 consent records" in proc.stdout
    shown = stopgate("optouts", "status", "07700900401", "--scope", "acme", config=config)
    assert "consent (1 records):" in shown.stdout and "web_form" in shown.stdout and "LIVE" in shown.stdout
    assert "ip=192.0.2.7" in shown.stdout
    # The audit export carries consent events.
    export = stopgate("audit", "export", "--type", "consent", config=config)
    rows = read_export(export.stdout)
    assert [(r["number"], r["reason"]) for r in rows] == [(A, "web_form"), (B, "paper")]
    # An opt-out ends the consent.
    seed(config, stop(A))
    shown = stopgate("consent", "show", "07700900401", "--scope", "acme", config=config)
    assert shown.returncode == 1 and "ended" in shown.stdout
    # A bad row imports nothing and names its line.
    bad = write_csv(tmp_path / "bad.csv", "number,source\n07700900403,paper\nnot-a-number,paper\n")
    proc = stopgate("consent", "import", bad, "--scope", "acme", config=config)
    assert proc.returncode != 0 and "line 3" in proc.stderr


def test_audit_redact_keeps_suppression(config: Path) -> None:
    seed(config, stop(A, "STOP - Jane Doe, 1 High St"), stop(B, "STOP"))
    proc = stopgate("audit", "redact", "--number", "07700900401", "--yes", config=config)
    assert proc.returncode == 0, proc.stderr
    events = events_of(config, number=A)
    assert [e.type for e in events] == [EventType.OPT_OUT, EventType.REDACTED]
    assert events[0].text == REDACTED and events[0].keyword == "STOP"
    assert stopgate("optouts", "status", "07700900401", "--scope", "acme", config=config).returncode == 0
    assert events_of(config, number=B)[0].text == "STOP"


def test_webhooks_status_and_replay(config: Path) -> None:
    seed(config, stop(A), stop(B))

    async def deliver_all() -> None:
        async with store_of(config) as store:
            assert await store.advance_webhook(
                "crm", 0, 1, DeadLetter(webhook="crm", event_id=1, ts=stop(A).ts, error="HTTP 500")
            )
            assert await store.advance_webhook("crm", 1, 2)

    anyio.run(deliver_all)
    proc = stopgate("webhooks", "status", "--json", config=config)
    assert proc.returncode == 1  # a dead letter is something to look at
    [row] = json.loads(proc.stdout)
    assert (row["name"], row["cursor"], row["pending"], row["dead_letters"]) == ("crm", 2, 0, 1)
    assert row["recent_dead_letters"][0]["event_id"] == 1
    proc = stopgate("webhooks", "replay", "--since", "2000-01-01", config=config)
    assert proc.returncode == 0, proc.stderr
    assert "replaying events after id 0" in proc.stdout
    row = json.loads(stopgate("webhooks", "status", "--json", config=config).stdout)[0]
    assert (row["cursor"], row["pending"]) == (0, 2)


# -- admin API -------------------------------------------------------------------------------------


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    override: dict[str, Any] = {
        "admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [TOKEN]},
        "session": {"shutdown_grace": 0.5},
        "webhook": [HOOK],
    }
    async with running_stack(tmp_path, override) as stack:
        admin = stack.app.admin
        assert isinstance(admin, AdminServer) and admin.port
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin.port}", headers=AUTH) as c:
            yield c


@pytest.mark.anyio
async def test_api_consents_redaction_and_webhooks(client: httpx.AsyncClient) -> None:
    body = {
        "number": "07700900401",
        "scope": "acme",
        "source": "web_form",
        "wording": "Offers by SMS",
        "time": "2024-05-01T10:00:00Z",
        "evidence": {"ip": "192.0.2.7", "form_id": "f1"},
    }
    resp = await client.post("/v1/consents", json=body)
    assert resp.status_code == 201, resp.text
    assert resp.json()["live"] is True and resp.json()["evidence"] == {"ip": "192.0.2.7", "form_id": "f1"}
    assert (await client.post("/v1/consents", json={"number": A, "scope": "acme"})).status_code == 400
    resp = await client.post("/v1/suppressions", json={"number": A, "scope": "acme", "reason": "called us"})
    assert resp.status_code in (200, 201)
    detail = (await client.get(f"/v1/consents/{A.replace('+', '%2B')}", params={"scope": "acme"})).json()
    assert detail["live"] is False and detail["consents"][0]["ended"] is not None
    assert [e["type"] for e in detail["history"]] == ["consent", "admin_add"]
    resp = await client.post("/v1/redactions", json={"number": A})
    assert resp.status_code == 200 and resp.json()["redacted_events"] == 2
    detail = (await client.get(f"/v1/consents/{A.replace('+', '%2B')}", params={"scope": "acme"})).json()
    assert detail["consents"][0]["evidence"] == {}
    assert [e["type"] for e in detail["history"]] == ["consent", "admin_add", "redacted"]
    resp = await client.get("/v1/webhooks")
    [hook] = resp.json()["items"]
    assert (hook["name"], hook["configured"], hook["events"]) == ("crm", True, ["opt_out", "consent"])
    assert (await client.get("/v1/webhooks", headers={"Authorization": ""})).status_code == 401
    spec = (await client.get("/openapi.json")).json()
    assert {"/v1/webhooks", "/v1/consents", "/v1/consents/{number}", "/v1/redactions"} <= set(spec["paths"])


def test_report_counts_web_survey_answers(config: Path) -> None:
    async def main() -> None:
        async with store_of(config) as store:
            await store.append_events(
                [
                    Event(type=EventType.OPTOUT_REASON, number=n, scope="acme", channel=Channel.WEB, reason=r)
                    for n, r in ((A, "too_many"), (B, "too_many"), ("+447700900403", "never_signed_up"))
                ]
            )

    anyio.run(main)
    proc = stopgate("report", config=config)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    survey = lines[lines.index("Opt-out reasons (web page survey)") :]
    assert any(line.split() == ["acme", "too_many", "2"] for line in survey), proc.stdout
    assert any(line.split() == ["acme", "never_signed_up", "1"] for line in survey), proc.stdout
