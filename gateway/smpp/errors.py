"""Errors by origin, after h11's ``_util.py``.

:class:`ProtocolError` is the base: catch it for either origin. :class:`RemoteProtocolError` means the
*peer* sent something that is not valid SMPP 3.4 (bytes that are no PDU, a PDU not allowed in this
state); :class:`LocalProtocolError` means *we* asked the core to do something invalid (a bug in the
caller, never the peer's fault), such as sending a request the bind state does not allow.

Each carries, as h11's ``error_status_hint`` does, the command_status an answer should have; the remote
ones also name the header they were about when it was readable, and say whether framing is lost.
"""

from __future__ import annotations

from .constants import CommandStatus


class ProtocolError(Exception):
    """Something is not valid SMPP 3.4; see the two subclasses for whose fault it is.

    ``status`` is the command_status the answer must carry. ``command_id`` and ``sequence_number`` are
    set when the error is about a frame whose header was readable, so the error can be answered with the
    right response type. ``fatal`` means framing is lost (a bad command_length): answer with
    generic_nack and close.
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


class RemoteProtocolError(ProtocolError):
    """The peer sent bytes that are not a valid PDU, or a PDU not allowed in this state."""


class LocalProtocolError(ProtocolError):
    """We tried to send something that the protocol or the session state does not allow."""


class PduTooLarge(LocalProtocolError):
    """A PDU we were about to send is longer than the link's max_pdu_size (a peer with the same limit
    would take it for lost framing and drop the session)."""
