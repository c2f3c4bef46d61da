"""Kannel 1.4.5 (Debian's `kannel`: bearerbox + smsbox) as the ESME through Stopgate to the simulated
SMSC, sending with HTTP sendsms (issue 13).

`mclass=1` makes Kannel send data_coding 0xF1 (GSM 7-bit, class 1): the footer is appended and the
coding kept (item 1). The delivery receipt comes back as the DLR the mask asked for; a message to an
opted-out number is refused with the default block status, which Kannel treats as a rejection (item 5,
DLR type 16) rather than requeueing it. .ci/run installs Kannel.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import parse_qs, quote, urlencode, urlsplit

import anyio
import httpx
import pytest
from anyio.abc import SocketStream

from tests.stack import BASE, running_stack
from tools.ports import free_port, wait_port

pytestmark = pytest.mark.anyio

NUMBER = "447700900401"
OPTED_OUT = "447700900402"
FOOTER = BASE["account"][0]["footer"]


def require_kannel() -> None:
    if shutil.which("bearerbox") and shutil.which("smsbox"):
        return
    if os.environ.get("CI"):
        pytest.fail("Kannel (bearerbox, smsbox) is not installed (.ci/run installs Debian's kannel)")
    pytest.skip("Kannel is not installed")


def kannel_conf(directory: Path, stopgate_port: int, ports: dict[str, int]) -> Path:
    (directory / "spool").mkdir()
    path = directory / "kannel.conf"
    path.write_text(
        f"""group = core
admin-port = {ports["admin"]}
admin-password = secret
smsbox-port = {ports["smsbox"]}
log-level = 1
log-file = "{directory}/bearerbox.log"
box-allow-ip = 127.0.0.1
dlr-storage = internal
store-type = spool
store-location = "{directory}/spool"

group = smsc
smsc = smpp
smsc-id = stopgate
host = 127.0.0.1
port = {stopgate_port}
transceiver-mode = true
smsc-username = acme
smsc-password = acmepw
system-type = ""
source-addr-ton = 5
source-addr-npi = 0
dest-addr-ton = 1
dest-addr-npi = 1

group = smsbox
bearerbox-host = 127.0.0.1
sendsms-port = {ports["sendsms"]}
log-file = "{directory}/smsbox.log"
log-level = 1

group = sendsms-user
username = tester
password = testpw
"""
    )
    return path


class DlrServer:
    """The dlr-url's end: records the query of every callback Kannel makes."""

    def __init__(self) -> None:
        self.port = free_port()
        self.calls: list[dict[str, str]] = []

    async def serve(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=self.port)
        task_status.started()
        await listener.serve(self._handle)

    async def _handle(self, stream: SocketStream) -> None:
        async with stream:
            data = b""
            while b"\r\n\r\n" not in data:
                data += await stream.receive()
            target = data.split(b" ", 2)[1].decode()
            query = parse_qs(urlsplit(target).query)
            self.calls.append({k: v[0] for k, v in query.items()})
            await stream.send(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")


@asynccontextmanager
async def kannel(directory: Path, stopgate_port: int) -> AsyncIterator[dict[str, int]]:
    ports = {name: free_port() for name in ("admin", "smsbox", "sendsms")}
    conf = kannel_conf(directory, stopgate_port, ports)
    async with await anyio.open_process(["bearerbox", str(conf)]) as bearerbox:
        try:
            await wait_port(ports["smsbox"])
            async with await anyio.open_process(["smsbox", str(conf)]) as smsbox:
                try:
                    await wait_port(ports["sendsms"])
                    yield ports
                finally:
                    smsbox.terminate()
                    with anyio.move_on_after(10):
                        await smsbox.wait()
        finally:
            bearerbox.terminate()
            with anyio.move_on_after(10):
                await bearerbox.wait()


async def test_kannel_mclass_footer_receipts_and_a_refusal(tmp_path: Path) -> None:
    require_kannel()
    dlr = DlrServer()
    override = {"optout": {"forward_keywords": False}}  # smsbox has no service for the STOP
    async with running_stack(tmp_path, override) as stack, anyio.create_task_group() as tg:
        await tg.start(dlr.serve)
        async with kannel(tmp_path, stack.port) as ports:
            await stack.smsc.wait_until(lambda: stack.smsc.bound_sessions, 20, "Kannel bound")
            assert (await stack.smsc.deliver(source_addr=OPTED_OUT, destination_addr="88088", text="STOP")
                    ).command_status == 0

            async def sendsms(to: str, tag: str, mask: int) -> str:
                url = f"http://127.0.0.1:{dlr.port}/dlr?tag={tag}&type=%d"
                query = urlencode(
                    {"username": "tester", "password": "testpw", "from": "ACME", "to": to,
                     "text": "Big sale today", "mclass": "1", "dlr-mask": str(mask), "dlr-url": url},
                    quote_via=quote,
                )
                async with httpx.AsyncClient() as client:
                    resp = await client.get(f"http://127.0.0.1:{ports['sendsms']}/cgi-bin/sendsms?{query}")
                return resp.text

            assert "Accepted" in await sendsms(NUMBER, "marketing", 1 | 2)
            assert "Accepted" in await sendsms(OPTED_OUT, "blocked", 1 | 2 | 16)
            with anyio.fail_after(20):
                while len(dlr.calls) < 2:
                    await anyio.sleep(0.1)
            await anyio.sleep(1)  # no further callback may follow
        tg.cancel_scope.cancel()

    marketing = [r for r in stack.smsc.received if r.destination_addr == NUMBER]
    assert len(marketing) == 1
    assert marketing[0].pdu.data_coding == 0xF1  # mclass=1: GSM 7-bit, class 1, kept
    assert marketing[0].text == "Big sale today " + FOOTER
    assert not [r for r in stack.smsc.received if r.destination_addr == OPTED_OUT and "sale" in r.text]
    by_tag = sorted((call["tag"], call["type"]) for call in dlr.calls)
    assert by_tag == [("blocked", "16"), ("marketing", "1")]  # delivered; rejected by the SMSC, once
