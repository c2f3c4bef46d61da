"""Connecting and binding to an upstream SMSC."""

from __future__ import annotations

import math
import ssl
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc

from gateway.config import SessionConfig, UpstreamConfig
from gateway.metrics import PduCounts
from gateway.smpp.connection import Connection
from gateway.smpp.constants import RESPONSE_BIT, BindMode, CommandStatus
from gateway.smpp.pdu import BIND_CLASSES, Pdu
from gateway.smpp.states import Role

from .link import Link, LinkClosed, LinkTimers, ResponseTimeout
from .link_tcp import TcpCarrier, open_tcp_connection


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
    pdu_counts: PduCounts | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Link:
    """Open the TCP (or TLS) connection to an upstream; the returned link is not running yet.

    Plain TCP is an asyncio protocol on the event loop's own connection (:class:`TcpCarrier`), TLS
    an anyio TLS stream."""
    try:
        with anyio.fail_after(upstream.bind_timeout):
            stream: anyio.abc.ByteStream | TcpCarrier
            if upstream.tls:
                stream = await anyio.connect_tcp(
                    upstream.host,
                    upstream.port,
                    ssl_context=client_tls_context(upstream),
                    tls_hostname=upstream.host,
                )
            else:
                stream = await open_tcp_connection(upstream.host, upstream.port)
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
    return Link(
        stream,
        conn,
        name=f"upstream:{upstream.name}",
        timers=timers,
        log=log,
        pdu_counts=pdu_counts,
        clock=clock,
    )


class ReconnectBackoff:
    """When an unreachable upstream may be tried again, as plain data with the time passed in.

    After a failed connect the next attempt waits ``initial`` seconds, doubling with each further
    failure up to ``maximum``; a successful connect resets it. Attempts that were already under way
    when a failure was recorded (several ESMEs binding at once) do not double the delay again.
    """

    def __init__(self, initial: float, maximum: float) -> None:
        self.initial = initial
        self.maximum = maximum
        self.failures = 0
        self.next_attempt = -math.inf
        self._failed_at = -math.inf

    def wait(self, now: float) -> float:
        """Seconds until the next attempt is allowed (0: now)."""
        return max(0.0, self.next_attempt - now)

    def failed(self, started: float, now: float) -> float:
        """Record a failed attempt that began at ``started``; returns the delay before the next one."""
        if started >= self._failed_at:
            self.failures = min(self.failures + 1, 64)
            delay = min(self.initial * 2 ** (self.failures - 1), self.maximum)
            self.next_attempt = now + delay
            self._failed_at = now
        return self.wait(now)

    def succeeded(self) -> None:
        self.failures = 0
        self.next_attempt = self._failed_at = -math.inf


async def connect_with_backoff(
    upstream: UpstreamConfig,
    session: SessionConfig,
    backoff: ReconnectBackoff,
    *,
    log: Any,
    pdu_counts: PduCounts | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Link:
    """:func:`connect_upstream`, retried with ``backoff`` for at most ``upstream.bind_timeout``.

    An SMSC restarting briefly costs the ESME a slower bind rather than a refused one; an SMSC that
    stays down is tried no more often than the backoff allows, however many ESMEs keep binding.
    Raises BindFailed when the deadline passes (at once if the next attempt is due after it).
    """
    deadline = clock() + upstream.bind_timeout
    error = ""
    while True:
        now = clock()
        wait = backoff.wait(now)
        if now + wait >= deadline:
            reason = error or f"backing off for {wait:.1f}s after earlier failures"
            raise BindFailed(f"{upstream.name} unreachable: {reason}")
        await anyio.sleep(wait)
        started = clock()
        try:
            with anyio.fail_after(max(0.0, deadline - started)):
                link = await connect_upstream(upstream, session, log=log, pdu_counts=pdu_counts, clock=clock)
        except (BindFailed, TimeoutError) as exc:
            error = str(exc) or f"connect to {upstream.name} timed out"
            delay = backoff.failed(started, clock())
            log.info(
                "upstream connect failed", error=error, failures=backoff.failures, retry_in=round(delay, 3)
            )
            continue
        backoff.succeeded()
        return link


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
    if resp.command_id != BIND_CLASSES[mode].command_id | RESPONSE_BIT:  # e.g. a generic_nack
        raise BindFailed(
            f"{upstream.name} answered the bind with {resp.command_id.name.lower()}"
            f" (status 0x{resp.command_status:08x})",
            resp.command_status or CommandStatus.ESME_RBINDFAIL,
        )
    if resp.command_status != CommandStatus.ESME_ROK:
        raise BindFailed(
            f"{upstream.name} refused the bind with status 0x{resp.command_status:08x}", resp.command_status
        )
    return resp
