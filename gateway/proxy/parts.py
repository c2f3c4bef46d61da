"""A split request (:class:`~gateway.policy.decisions.ForwardParts`) sent up one part at a time.

Each part leaves once the one before was accepted; the ESME gets one answer for the whole message.
Once an earlier part was accepted, a later part refused with a retryable status is sent again on the
same bind with back-off (:meth:`~.relay.Parts.retry_delay`): answering the ESME "retry" would make it
resend the whole message and the handset would get the accepted parts twice. Past the bound, the
ESME gets a permanent error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio

from gateway.smpp.constants import RETRYABLE_STATUSES, CommandStatus
from gateway.smpp.errors import PduTooLarge
from gateway.smpp.pdu import Pdu, make_response
from gateway.smpp.states import State

from .link import Link
from .relay import Parts

_BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)


class SplitSender:
    """The parts of one session's split requests, between its ESME link and its upstream link."""

    def __init__(
        self,
        esme: Link,
        upstream: Callable[[], Link | None],
        log: Callable[[], Any],
        spawn: Callable[..., None],
    ) -> None:
        self._esme = esme
        self._upstream = upstream
        self._log = log
        self._spawn = spawn

    def send(self, parts: Parts) -> None:
        """Send the part out now (``parts.index``) on the upstream, or answer the ESME why not."""
        request = parts.request
        upstream = parts.link or self._upstream()
        if upstream is None or upstream.closed or upstream.conn.state not in _BOUND:
            self._esme.respond(make_response(request, CommandStatus.ESME_RSYSERR), parts.sequence_number)
            return
        try:
            upstream.send_nowait(parts.decision.parts[parts.index], parts.context)
        except PduTooLarge as exc:
            self._log().warning("request too large to relay", error=str(exc))
            self._esme.respond(make_response(request, CommandStatus.ESME_RINVMSGLEN), parts.sequence_number)

    def answered(self, parts: Parts, response: Pdu) -> None:
        """The SMSC answered the part out now: send the next, retry this one, or answer the ESME."""
        decision = parts.decision
        esme = self._esme
        status = response.command_status
        if parts.index and status != CommandStatus.ESME_ROK:  # an earlier part is out: finish the message
            delay = parts.retry_delay(status)
            if delay is not None:
                self._spawn(self._retry, parts, delay)
                return
            if status in RETRYABLE_STATUSES:
                self._log().warning(
                    "split message left incomplete: a later part kept being refused",
                    part=parts.index + 1,
                    parts=len(decision.parts),
                    status=f"0x{status:08x}",
                    retries=parts.retries,
                )
                if not esme.closed:  # permanent: a retry would send the accepted parts again
                    refused = make_response(parts.request, CommandStatus.ESME_RSUBMITFAIL)
                    esme.respond(refused, parts.sequence_number)
                return
        if decision.on_response is not None:
            decision.on_response(parts.index, response)
        parts.responses.append(response)
        if status == CommandStatus.ESME_ROK and parts.index + 1 < len(decision.parts):
            parts.index += 1
            parts.retries = 0
            self.send(parts)
        elif not esme.closed:
            esme.respond(decision.answer(parts.responses), parts.sequence_number)

    async def _retry(self, parts: Parts, delay: float) -> None:
        await anyio.sleep(delay)
        self.send(parts)
