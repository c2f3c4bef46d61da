"""Errors by origin, after h11's ``_util.py``.

``ProtocolError`` means the *peer* sent something that is not valid SMPP 3.4; it carries the status that
the answer should have and whether the byte stream can still be trusted. ``LocalProtocolError`` means
*we* asked the core to do something invalid (a bug in the caller, never the peer's fault).
"""

from __future__ import annotations

from .constants import CommandStatus


class SmppError(Exception):
    """Base class for every error raised by the SMPP core."""


class ProtocolError(SmppError):
    """The peer sent bytes that are not a valid PDU, or a PDU not allowed in this state.

    ``status`` is the command_status the answer must carry. ``command_id`` and ``sequence_number`` are
    set when the header was readable, so the error can be answered with the right response type.
    ``fatal`` means framing is lost (a bad command_length): answer with generic_nack and close.
    """

    def __init__(
        self,
        message: str,
        *,
        status: int = CommandStatus.ESME_RSYSERR,
        command_id: int | None = None,
        sequence_number: int | None = None,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.command_id = command_id
        self.sequence_number = sequence_number
        self.fatal = fatal


class LocalProtocolError(SmppError):
    """We tried to send something that the protocol or the session state does not allow."""


class PduTooLarge(LocalProtocolError):
    """A PDU we were about to send is longer than the link's max_pdu_size (a peer with the same limit
    would take it for lost framing and drop the session)."""
