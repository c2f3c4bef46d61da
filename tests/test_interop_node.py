"""The npm `smpp` 0.5.1 client as an ESME through Stopgate to the simulated SMSC (issue 13).

A STOP sent with data_coding 0xF0 (GSM 7-bit, message class 0) is an opt-out (item 1); the submit that
follows is refused with the default block status, a standard permanent error (item 5); a marketing
message with data_coding 0xF0 gets the footer and keeps 0xF0 (item 1); and a message with the client's
default data_coding 0x01 (node smpp writes GSM 03.38 octets under it) gets the footer in 0x01.
The client is installed by .ci/run (`npm ci` in tests/interop/node).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio.streams.text import TextReceiveStream

from gateway.smpp.constants import CommandStatus
from gateway.text.encoding import decode_text
from tests.stack import BASE, running_stack

pytestmark = pytest.mark.anyio

NODE_DIR = Path(__file__).parent / "interop" / "node"
NUMBER = "447700900401"
OTHER = "447700900402"
SHORT_CODE = "88088"
FOOTER = BASE["account"][0]["footer"]


def node_client_missing() -> str | None:
    if shutil.which("node") is None:
        return "node is not installed"
    if not (NODE_DIR / "node_modules" / "smpp").is_dir():
        return "npm smpp is not installed: run `npm ci` in tests/interop/node"
    return None


def require_node_client() -> None:
    missing = node_client_missing()
    if missing is None:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{missing} (.ci/run installs it)")
    pytest.skip(missing)


async def run_node(port: int, plan: list[dict[str, Any]], on_line: Any = None) -> list[dict[str, Any]]:
    """Run client.js with ``plan``; ``on_line(line)`` is awaited for each JSON line it prints."""
    lines: list[dict[str, Any]] = []
    async with await anyio.open_process(
        ["node", str(NODE_DIR / "client.js"), str(port), json.dumps(plan)], cwd=NODE_DIR
    ) as process:
        assert process.stdout is not None
        buffer = ""
        with anyio.fail_after(30):
            async for chunk in TextReceiveStream(process.stdout):
                buffer += chunk
                while "\n" in buffer:
                    raw, buffer = buffer.split("\n", 1)
                    line = json.loads(raw)
                    lines.append(line)
                    if on_line is not None:
                        await on_line(line)
            await process.wait()
        assert process.returncode == 0, lines
    return lines


async def test_node_smpp_stop_with_class_coding_footer_and_default_coding(tmp_path: Path) -> None:
    require_node_client()
    async with running_stack(tmp_path) as stack:
        plan = [
            {"submit": {"destination_addr": NUMBER, "source_addr": SHORT_CODE, "data_coding": 0xF0,
                        "short_message": "Big sale today"}},
            {"submit": {"destination_addr": OTHER, "source_addr": SHORT_CODE,
                        "short_message": "Flash sale now"}},  # data_coding left to the client: 0x01
            {"wait_mo": 1},
            {"submit": {"destination_addr": NUMBER, "source_addr": SHORT_CODE, "short_message": "Again"}},
        ]

        async def on_line(line: dict[str, Any]) -> None:
            if line.get("submit") == 1:  # both marketing messages answered: the handset texts STOP
                resp = await stack.smsc.deliver(
                    source_addr=NUMBER, destination_addr=SHORT_CODE, text="STOP", data_coding=0xF0
                )
                assert resp.command_status == CommandStatus.ESME_ROK

        lines = await run_node(stack.port, plan, on_line)
        answers = {line["submit"]: line for line in lines if "submit" in line}
        assert [answers[i]["status"] for i in (0, 1)] == [0, 0]
        assert answers[3]["status"] == CommandStatus.ESME_RSUBMITFAIL  # opted out: refused, permanently
        assert [line["mo"] for line in lines if "mo" in line] == ["STOP"]  # the MO reached the client

        classed, default = stack.smsc.received[:2]
        assert (classed.pdu.data_coding, default.pdu.data_coding) == (0xF0, 0x01)
        assert decode_text(classed.pdu.short_message, 0xF0) == "Big sale today " + FOOTER
        assert decode_text(default.pdu.short_message, 0x01) == "Flash sale now " + FOOTER
        # the refused submit never reached the SMSC (the third message is Stopgate's confirmation)
        assert not [r for r in stack.smsc.received if r.text.startswith("Again")]
        suppression = await stack.app.store.get_suppression("acme", "+" + NUMBER)
        assert suppression is not None and suppression.keyword == "STOP"
