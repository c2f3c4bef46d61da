"""Connecting and binding to an upstream SMSC."""

from __future__ import annotations

import ssl
from typing import Any

import anyio
import anyio.abc

from gateway.config import SessionConfig, UpstreamConfig
from gateway.smpp.connection import Connection, Role
from gateway.smpp.constants import BindMode, CommandStatus
from gateway.smpp.pdu import BIND_CLASSES, Pdu

from .link import Link, LinkClosed, LinkTimers, PduObserver, ResponseTimeout


class BindFailed(Exception):
    """The upstream refused the bind, or could not be reached."""

    def __init__(self, message: str, status: int = CommandStatus.ESME_RBINDFAIL) -> None:
        super().__init__(message)
        self.status = status


def client_tls_context(upstream: UpstreamConfig) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(upstream.tls_ca) if upstream.tls_ca else None)
    if upstream.tls_cert is not None:
        context.load_cert_chain(str(upstream.tls_cert), str(upstream.tls_key) if upstream.tls_key else None)
    return context


async def connect_upstream(
    upstream: UpstreamConfig,
    session: SessionConfig,
    *,
    log: Any,
    observer: PduObserver | None = None,
) -> Link:
    """Open the TCP (or TLS) connection to an upstream; the returned link is not running yet."""
    try:
        with anyio.fail_after(upstream.bind_timeout):
            stream: anyio.abc.ByteStream
            if upstream.tls:
                stream = await anyio.connect_tcp(
                    upstream.host,
                    upstream.port,
                    ssl_context=client_tls_context(upstream),
                    tls_hostname=upstream.host,
                )
            else:
                stream = await anyio.connect_tcp(upstream.host, upstream.port)
    except TimeoutError as exc:
        raise BindFailed(f"connect to {upstream.name} timed out") from exc
    except (OSError, ssl.SSLError) as exc:
        raise BindFailed(f"cannot connect to {upstream.name}: {exc}") from exc
    conn = Connection(Role.ESME, response_timeout=session.response_timeout, max_pdu_size=session.max_pdu_size)
    timers = LinkTimers(
        enquire_link_interval=session.enquire_link_interval,
        inactivity_timeout=0,  # the SMSC may be quiet; enquire_link detects a dead peer instead
        incomplete_pdu_timeout=session.incomplete_pdu_timeout,
    )
    return Link(stream, conn, name=f"upstream:{upstream.name}", timers=timers, log=log, observer=observer)


async def bind_upstream(link: Link, upstream: UpstreamConfig, mode: BindMode) -> Pdu:
    """Bind a running upstream link in ``mode``; returns the bind_resp or raises BindFailed."""
    bind = BIND_CLASSES[mode](
        system_id=upstream.system_id,
        password=upstream.password,
        system_type=upstream.system_type,
        interface_version=upstream.interface_version,
    )
    try:
        resp = await link.request(bind, upstream.bind_timeout)
    except (LinkClosed, ResponseTimeout) as exc:
        raise BindFailed(f"bind to {upstream.name} failed: {exc}") from exc
    if resp.command_status != CommandStatus.ESME_ROK:
        raise BindFailed(
            f"{upstream.name} refused the bind with status 0x{resp.command_status:08x}", resp.command_status
        )
    return resp
