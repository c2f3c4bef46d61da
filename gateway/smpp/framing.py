"""Cutting a byte stream into PDU frames (§3.1): bytes in any chunking, whole frames out."""

from __future__ import annotations

import struct

from .constants import HEADER_SIZE, CommandStatus
from .errors import RemoteProtocolError

_LENGTH = struct.Struct(">I")
_HEAD = struct.Struct(">II")

DEFAULT_MAX_PDU_SIZE = 65536


class FrameBuffer:
    """Accumulates received bytes and yields complete frames.

    A command_length below 16 or above ``max_pdu_size`` loses the framing: :meth:`frames` raises a fatal
    :class:`RemoteProtocolError` (answer with generic_nack ESME_RINVCMDLEN and close).
    """

    __slots__ = ("_buffer", "_pos", "max_pdu_size")

    def __init__(self, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> None:
        # A chunk that arrives while nothing is pending (the usual case) is kept as the bytes it is,
        # and its frames are cut with one slice each; bytes that wait for more are gathered in a
        # bytearray, so that a PDU trickling in octet by octet costs no more than one arriving whole.
        self._buffer: bytes | bytearray = b""
        self._pos = 0
        self.max_pdu_size = max_pdu_size

    def feed(self, data: bytes) -> None:
        buffer, pos = self._buffer, self._pos
        self._pos = 0
        if pos >= len(buffer):
            self._buffer = bytes(data)
            return
        if isinstance(buffer, bytearray):
            del buffer[:pos]
        else:
            buffer = bytearray(buffer[pos:])
        buffer += data
        self._buffer = buffer

    @property
    def pending(self) -> int:
        """Octets received but not yet returned as a frame (a partial PDU when non-zero)."""
        return len(self._buffer) - self._pos

    def frames(self) -> list[bytes]:
        """Every complete frame received so far, in order; empty when more bytes are needed.

        A window arriving at once is cut in one loop. A bad command_length ends the list before its
        frame; the next call raises.
        """
        buffer, pos = self._buffer, self._pos
        end = len(buffer)
        max_pdu_size = self.max_pdu_size
        frames: list[bytes] = []
        while end - pos >= 4:
            (length,) = _LENGTH.unpack_from(buffer, pos)
            if not HEADER_SIZE <= length <= max_pdu_size:
                if frames:
                    break
                raise self._bad_length(length)
            stop = pos + length
            if stop > end:
                break
            frames.append(buffer[pos:stop])  # type: ignore[arg-type]  # bytes unless a partial PDU was gathered
            pos = stop
        self._pos = pos
        if type(buffer) is bytes:
            return frames
        return [bytes(frame) for frame in frames]

    def _bad_length(self, length: int) -> RemoteProtocolError:
        buffer, pos = self._buffer, self._pos
        command_id = sequence = None
        if len(buffer) - pos >= HEADER_SIZE:
            command_id, _ = _HEAD.unpack_from(buffer, pos + 4)
            (sequence,) = _LENGTH.unpack_from(buffer, pos + 12)
        return RemoteProtocolError(
            f"command_length {length} outside 16..{self.max_pdu_size}",
            status=CommandStatus.ESME_RINVCMDLEN,
            command_id=command_id,
            sequence_number=sequence,
            fatal=True,
        )
