"""ESMEs for the simulated SMSC's tests: one made of our own Link, and smpplib (a third-party
client) in a thread."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import smpplib.client
import smpplib.consts
import smpplib.exceptions

from gateway.proxy.link import Link, LinkTimers, ResponseTimeout
from gateway.smpp.connection import Connection
from gateway.smpp.constants import BindMode, CommandId, CommandStatus
from gateway.smpp.events import Request
from gateway.smpp.pdu import BIND_CLASSES, Pdu, SubmitSm, make_response
from gateway.smpp.states import Role

C = CommandId
S = CommandStatus
#: The simulator's users in these tests.
USERS = {"proxy": "proxypw", "other": "otherpw"}
#: A receipt's text as the simulator writes it (SMPP 3.4 Appendix B).
RECEIPT_RE = re.compile(
    r"^id:(?P<id>\S+) sub:001 dlvrd:001 submit date:\d{10} done date:\d{10}"
    r" stat:DELIVRD err:000 text:(?P<text>.*)$"
)


# --- an ESME made of our own Link -------------------------------------------------------------------


class LinkEsme:
    """An ESME on our own Link: answers deliver_sm/data_sm with ``mo_status`` and unbind politely."""

    def __init__(self, link: Link) -> None:
        self.link = link
        self.mo_status: int = S.ESME_ROK
        self.delivered: list[Pdu] = []
        self.unbound = anyio.Event()
        self.bind_resp: Pdu | None = None
        self._changed = anyio.Event()

    def on_event(self, link: Link, event: object) -> None:
        if type(event) is not Request:
            return
        pdu = event.pdu
        if pdu.command_id in (C.DELIVER_SM, C.DATA_SM):
            self.delivered.append(pdu)
            link.respond(make_response(pdu, self.mo_status))
            self._changed.set()
            self._changed = anyio.Event()
        elif pdu.command_id == C.UNBIND:
            link.answer_unbind(pdu)
            self.unbound.set()

    async def wait_delivered(self, count: int, timeout: float = 3.0) -> list[Pdu]:
        with anyio.fail_after(timeout):
            while len(self.delivered) < count:
                await self._changed.wait()
        return self.delivered

    async def submit(self, timeout: float = 2.0, **fields: Any) -> Pdu:
        fields.setdefault("source_addr_ton", 5)
        fields.setdefault("source_addr", "Shop")
        fields.setdefault("dest_addr_ton", 1)
        fields.setdefault("dest_addr_npi", 1)
        fields.setdefault("destination_addr", "447700900123")
        fields.setdefault("short_message", b"Hello")
        return await self.link.request(SubmitSm(**fields), timeout)


@asynccontextmanager
async def link_esme(
    port: int,
    mode: BindMode = BindMode.TRANSCEIVER,
    system_id: str = "proxy",
    password: str = "proxypw",
    *,
    bind_timeout: float = 2.0,
) -> AsyncIterator[LinkEsme]:
    """A bound ESME (raises ResponseTimeout if the bind is not answered in ``bind_timeout``)."""
    stream = await anyio.connect_tcp("127.0.0.1", port)
    link = Link(
        stream,
        Connection(Role.ESME, response_timeout=5.0),
        name="test-esme",
        timers=LinkTimers(enquire_link_interval=0, inactivity_timeout=0),
    )
    esme = LinkEsme(link)
    bind_error: ResponseTimeout | None = None
    async with anyio.create_task_group() as tg:
        tg.start_soon(link.run, esme.on_event)
        try:
            bind_pdu = BIND_CLASSES[mode](system_id=system_id, password=password)
            esme.bind_resp = await link.request(bind_pdu, bind_timeout)
        except ResponseTimeout as exc:
            bind_error = exc
        if bind_error is None:
            try:
                yield esme
            finally:
                await link.close()
                tg.cancel_scope.cancel()
        else:
            await link.close()
            tg.cancel_scope.cancel()
    if bind_error is not None:
        raise bind_error


# --- smpplib in a thread -----------------------------------------------------------------------------


def smpplib_client(port: int) -> smpplib.client.Client:
    client = smpplib.client.Client("127.0.0.1", port, timeout=3, allow_unknown_opt_params=True)
    client.connect()
    return client


def smpplib_bind_status(port: int, system_id: str, password: str, mode: str = "transmitter") -> int:
    """Bind with smpplib; returns the bind response's status (0 on success)."""
    client = smpplib_client(port)
    try:
        getattr(client, f"bind_{mode}")(system_id=system_id, password=password)
        return 0
    except smpplib.exceptions.PDUError as exc:
        return int(exc.args[1])
    finally:
        client.disconnect()
