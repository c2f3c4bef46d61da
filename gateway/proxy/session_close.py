"""Ending an ESME session: a graceful stop, and the SMSC unbinding the session's own upstream bind."""

from __future__ import annotations

import contextlib
from typing import Any

import anyio

from gateway.smpp.pdu import Pdu, Unbind
from gateway.smpp.states import State

from .link import LinkClosed, ResponseTimeout


async def upstream_unbind(session: Any, request: Pdu) -> None:
    """The SMSC unbinds (§4.2): its answers still in flight may arrive (bounded), then unbind_resp;
    whatever stays unanswered is failed back to the ESME, which is unbound last."""
    session_cfg = session.proxy.config.session
    upstream = session.upstream
    if upstream is not None:
        await upstream.wait_answered(min(session_cfg.response_timeout, session_cfg.shutdown_grace))
        upstream.answer_unbind(request)
        await upstream.wait_flushed(1.0)
        await upstream.close("unbound by SMSC")
        with anyio.move_on_after(1.0):
            await upstream.wait_closed()  # its unanswered requests are now errors to the ESME
    if _still_bound(session):
        with contextlib.suppress(LinkClosed, ResponseTimeout):
            await session.esme.request(Unbind(), session_cfg.response_timeout)
    await session.esme.close("unbound by SMSC")


async def shutdown(session: Any, grace: float) -> None:
    """Graceful stop: unbind the ESME, let in-flight responses arrive (bounded), unbind upstream."""
    clock = session.proxy.clock
    deadline = clock() + grace
    if _still_bound(session):
        with contextlib.suppress(LinkClosed, ResponseTimeout):
            await session.esme.request(Unbind(), max(0.1, min(1.0, grace / 2)))
    upstream = session.upstream
    if upstream is not None:
        await upstream.wait_answered(max(0.0, deadline - clock()))
    elif session.router is not None:  # pooled: the shared binds' answers (every session is stopping)
        await session.router.wait_answered(max(0.0, deadline - clock()))
    await session.esme.close("shutdown")
    if upstream is not None:
        await upstream.unbind(1.0)


def _still_bound(session: Any) -> bool:
    """Whether the ESME is to be sent an unbind: bound, and not already unbinding itself (its own
    unbind is answered by the session, which then closes the link)."""
    esme = session.esme
    return bool(session.bound) and not esme.closed and esme.conn.state in _BOUND


_BOUND = frozenset({State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX})
