"""`stopgate report` answers a compliance officer (issue 18 item 6): every channel counted, the list size
per scope, --until, CSV and JSON; the STOP event stores the campaign and the address texted."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime
from pathlib import Path

import anyio
import pytest
from anyio import to_thread

from gateway.store.model import Channel, Event, EventType
from tests.esme import Esme
from tests.stack import running_stack
from tests.test_cli import stopgate, store_of, write_config

NUMBER = "447700900401"
SHORT_CODE = "88088"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_config(tmp_path / "stopgate.toml", 2776)


def test_every_channel_list_sizes_until_and_formats(config: Path, tmp_path: Path) -> None:
    may = datetime(2024, 5, 1, 10, tzinfo=UTC)
    june = datetime(2024, 6, 1, 10, tzinfo=UTC)

    async def seed() -> None:
        async with store_of(config) as store:
            await store.opt_out(
                Event(
                    type=EventType.OPT_OUT,
                    number="+447700900301",
                    scope="acme",
                    channel=Channel.SMS,
                    account="acme",
                    keyword="STOP",
                    ts=may,
                )
            )
            await store.opt_out(
                Event(type=EventType.ADMIN_ADD, number="+447700900302", scope="acme", channel=Channel.API,
                      operator="api:token1", ts=june)
            )  # fmt: skip

    anyio.run(seed)
    assert stopgate("optouts", "add", "07700900303", "--scope", "acme", config=config).returncode == 0
    listing = tmp_path / "list.csv"
    listing.write_text("number\n" + "".join(f"+4477009004{n:02d}\n" for n in range(10)))
    assert stopgate("optouts", "import", listing, "--scope", "other", config=config).returncode == 0

    text = stopgate("report", config=config)
    assert text.returncode == 0, text.stderr
    lines = [line.split() for line in text.stdout.splitlines()]
    assert ["2024-05-01", "acme", "sms", "1", "0", "0", "0"] in lines
    assert ["2024-06-01", "acme", "api", "1", "0", "0", "0"] in lines
    assert any(line[1:4] == ["acme", "cli", "1"] for line in lines if len(line) == 7)
    assert any(line[1:4] == ["other", "import", "10"] for line in lines if len(line) == 7)
    assert ["total", "13", "0", "0", "0"] in lines
    assert ["acme", "3"] in lines and ["other", "10"] in lines  # list size per scope

    until = json.loads(stopgate("report", "--until", "2024-05-15", "--format", "json", config=config).stdout)
    assert [(r["day"], r["channel"], r["opt_outs"]) for r in until["per_day"]] == [("2024-05-01", "sms", 1)]
    assert until["list_size"] == {"acme": 3, "other": 10}

    rows = list(csv.DictReader(io.StringIO(stopgate("report", "--format", "csv", config=config).stdout)))
    sizes = {r["scope"]: r["value"] for r in rows if r["section"] == "list_size"}
    assert sizes == {"acme": "3", "other": "10"}
    imports = [
        r for r in rows if r["section"] == "per_day" and r["channel"] == "import" and r["key"] == "opt_outs"
    ]
    assert [r["value"] for r in imports] == ["10"]

    bad = stopgate("report", "--since", "2024-06-01", "--until", "2024-05-01", config=config)
    assert bad.returncode == 2 and "--until must be after --since" in bad.stderr


@pytest.mark.anyio
async def test_the_stop_event_stores_the_campaign_and_the_address_texted(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        resp = await to_thread.run_sync(lambda: esme.submit(NUMBER, "Spring sale", service_type="SPRIN"))
        assert resp.status == 0
        await stack.smsc.deliver(source_addr=NUMBER, destination_addr=SHORT_CODE, text="STOP")
        [stop] = await stack.app.store.events(number="+" + NUMBER, types=[EventType.OPT_OUT])
        assert (stop.campaign, stop.address) == ("SPRIN", SHORT_CODE)
        esme.close()
