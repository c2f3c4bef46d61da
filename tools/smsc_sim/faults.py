"""Fault injection: what misbehaviour is armed, and what it makes the simulator answer.

:class:`Faults` holds the armed faults and decides, request by request, the answer they replace (or
that there is none); it touches no socket. :class:`DroppingStream` is the one fault below the SMPP
core: while enquire_link is stalled it swallows the enquire_link_resp frames the core writes.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Mapping
from typing import Any, Final

import anyio.abc

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.pdu import GenericNack, Pdu, make_response

__all__ = ["DroppingStream", "Faults", "drop_frames"]

S = CommandStatus
_HEAD: Final = struct.Struct(">IIII")
_ENQUIRE_LINK_RESP: Final = int(CommandId.ENQUIRE_LINK_RESP)


class Faults:
    """The faults armed now. ``active`` is true while any of them changes how a submit is answered
    (so the hot path tests one attribute)."""

    def __init__(self) -> None:
        self.stalled = False
        self.stall_binds = False
        self.drop_enquire_link_resp = False
        self.delay = 0.0
        self.throttle_left = 0
        self.fail_left = 0
        self.fail_status: int = S.ESME_RSYSERR
        self.nack_left = 0
        self.nack_status: int = S.ESME_RSYSERR
        self.refusing_binds = False
        self.active = False

    def _rearm(self) -> None:
        self.active = bool(
            self.stalled or self.delay or self.throttle_left or self.fail_left or self.nack_left
        )

    def throttle_next(self, n: int) -> None:
        self.throttle_left = max(0, int(n))
        self._rearm()

    def fail_next(self, n: int, status: int) -> None:
        self.fail_left = max(0, int(n))
        self.fail_status = int(status)
        self._rearm()

    def generic_nack_next(self, n: int, status: int) -> None:
        self.nack_left = max(0, int(n))
        self.nack_status = int(status)
        self._rearm()

    def stall(self, on: bool, *, enquire_link: bool, binds: bool) -> None:
        self.stalled = bool(on)
        self.stall_binds = bool(on and binds)
        self.drop_enquire_link_resp = bool(on and enquire_link)
        self._rearm()

    def respond_delay(self, seconds: float) -> None:
        self.delay = max(0.0, float(seconds))
        self._rearm()

    def refuse_binds(self, on: bool) -> None:
        self.refusing_binds = bool(on)

    def reset(self) -> None:
        self.throttle_left = self.fail_left = self.nack_left = 0
        self.stalled = self.stall_binds = self.drop_enquire_link_resp = self.refusing_binds = False
        self.delay = 0.0
        self._rearm()

    def summary(self) -> dict[str, Any]:
        return {
            "stalled": self.stalled,
            "stall_binds": self.stall_binds,
            "stall_enquire_link": self.drop_enquire_link_resp,
            "delay": self.delay,
            "throttle_left": self.throttle_left,
            "fail_left": self.fail_left,
            "fail_status": self.fail_status,
            "generic_nack_left": self.nack_left,
            "refuse_binds": self.refusing_binds,
        }

    def refuse_submit(self, pdu: Pdu) -> tuple[str, Pdu | None] | None:
        """The fault that answers this submit, used up by it: (the counter it is counted under, its
        answer, None when stalled); None when the submit is to be accepted. generic_nack comes first,
        then throttling, then failures."""
        seq = pdu.sequence_number
        if self.stalled:
            return "stalled", None
        if self.nack_left:
            self.nack_left -= 1
            refusal: tuple[str, Pdu | None] = (
                "generic_nacks",
                GenericNack(sequence_number=seq, command_status=self.nack_status),
            )
        elif self.throttle_left:
            self.throttle_left -= 1
            refusal = "throttled", make_response(pdu, S.ESME_RTHROTTLED)
        elif self.fail_left:
            self.fail_left -= 1
            refusal = "failed", make_response(pdu, self.fail_status)
        else:
            return None
        self._rearm()
        return refusal


class DroppingStream(anyio.abc.ByteStream):
    """The accepted socket, able to swallow enquire_link_resp frames while the simulator stalls them."""

    def __init__(self, inner: anyio.abc.ByteStream, faults: Faults) -> None:
        self.inner = inner
        self.faults = faults

    async def receive(self, max_bytes: int = 65536) -> bytes:
        return await self.inner.receive(max_bytes)

    async def send(self, item: bytes) -> None:
        if self.faults.drop_enquire_link_resp:
            item = drop_frames(item, _ENQUIRE_LINK_RESP)
            if not item:
                return
        await self.inner.send(item)

    async def send_eof(self) -> None:
        await self.inner.send_eof()

    async def aclose(self) -> None:
        await self.inner.aclose()

    @property
    def extra_attributes(self) -> Mapping[Any, Callable[[], Any]]:
        return self.inner.extra_attributes


def drop_frames(data: bytes, command_id: int) -> bytes:
    """``data`` (whole SMPP frames) without the frames of ``command_id``."""
    out = []
    pos, end = 0, len(data)
    while pos + 16 <= end:
        length, cid, _, _ = _HEAD.unpack_from(data, pos)
        if length < 16:
            out.append(data[pos:])
            break
        if cid != command_id:
            out.append(data[pos : pos + length])
        pos += length
    else:
        out.append(data[pos:])
    return b"".join(out)
