"""The proxy's own binds and what it reports about the upstreams of bound sessions."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import anyio

from gateway.config import UpstreamConfig
from gateway.smpp.constants import BindMode, CommandId
from gateway.smpp.events import Request
from gateway.smpp.pdu import Pdu

from .link import Link
from .upstream import bind_upstream


class ServiceBind:
    """The proxy's own transmitter bind to one upstream, for messages it originates (confirmations)
    on behalf of sessions that cannot transmit themselves (receiver-only ESMEs)."""

    def __init__(self, proxy: Any, upstream: UpstreamConfig) -> None:
        self.proxy = proxy
        self.upstream = upstream
        self._link: Link | None = None
        self._lock = anyio.Lock()

    async def request(self, pdu: Pdu, on_response: Callable[[Pdu], object] | None = None) -> Pdu:
        link = await self._get()
        return await link.request(pdu, self.proxy.config.session.response_timeout, on_response)

    async def _get(self) -> Link:
        async with self._lock:
            if self._link is None or self._link.closed:
                proxy = self.proxy
                log = proxy.log.bind(upstream=self.upstream.name, leg="service")
                link = await proxy.connect_upstream(self.upstream, log)
                proxy.task_group.start_soon(link.run, self._on_event)
                await bind_upstream(link, self.upstream, BindMode.TRANSMITTER)
                self._link = link
            return self._link

    def _on_event(self, link: Link, event: Any) -> None:
        if type(event) is Request and event.pdu.command_id == CommandId.UNBIND:
            link.answer_unbind(event.pdu)

    async def close(self) -> None:
        if self._link is not None:
            await self._link.unbind(1.0)


@dataclass(frozen=True, slots=True)
class UpstreamHealth:
    """One bound ESME session's upstream, as :meth:`Proxy.upstream_health` reports it."""

    #: The bound account.
    system_id: str
    #: The name of the account's upstream.
    upstream: str
    #: Whether the session's upstream link is connected (False while it is lost or not yet made).
    up: bool
