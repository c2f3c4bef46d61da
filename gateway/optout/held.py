"""Marketing messages the ESME split itself, held until their last part so the footer goes once, at
the end of the whole text.

Each part is answered at once with an id of Stopgate's own (many ESMEs send part n+1 only after part
n's response); when the last arrives the text is joined, the footer appended and the message re-cut
and sent. A message still incomplete ``hold_timeout`` after its first part is sent as it came.
Receipts then carry the SMSC's ids, mapped back to Stopgate's (:mod:`gateway.optout.receipts`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gateway.metrics import Metrics
from gateway.policy.decisions import Decision, Respond, SessionInfo
from gateway.policy.messages import MessageText, text_parts
from gateway.smpp.constants import CommandStatus
from gateway.smpp.pdu import Pdu, SubmitSm, make_response
from gateway.text.footer import append_footer, has_footer

from .accounts import AccountPolicy
from .ids import new_message_id
from .receipts import ReceiptIds

#: (session id, destination, concatenation reference, total parts)
HeldKey = tuple[str, str, int, int]


@dataclass(slots=True)
class _Held:
    """Parts of an ESME-split marketing message held until the last one arrives."""

    session: SessionInfo[Any]
    deadline: float
    total: int
    reference: int
    sar: bool
    #: The footer to add, ``{optout_url}`` already expanded for this recipient.
    footer: str
    parts: dict[int, tuple[SubmitSm, str, str]] = field(default_factory=dict)  # seq → (pdu, text, our id)


class HeldMessages:
    """The messages being held, and their release (in tasks of their own)."""

    def __init__(
        self,
        *,
        receipts: ReceiptIds,
        metrics: Metrics,
        log: Any,
        clock: Callable[[], float],
        spawn: Callable[..., None],
        arm: Callable[[float], None],
    ) -> None:
        self.receipts = receipts
        self.metrics = metrics
        self.log = log
        self.clock = clock
        self.spawn = spawn
        self.arm = arm
        self._held: dict[HeldKey, _Held] = {}

    def __len__(self) -> int:
        return len(self._held)

    def hold(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        pdu: SubmitSm,
        message: MessageText,
        number: str,
        footer: str | None = None,
        link: Callable[[], str] | None = None,
    ) -> Decision:
        """Hold one part; ``link``, if given, gives the footer with a new ``{optout_url}`` link,
        called once per message (with its first part held), not once per part."""
        concat = message.concat
        assert concat is not None
        key = (session.session_id, number, concat.reference, concat.total)
        held = self._held.get(key)
        if held is None:
            optout = account.config.optout
            if len(self._held) >= optout.max_held_messages:
                return Respond(make_response(pdu, CommandStatus.ESME_RMSGQFUL))
            deadline = self.clock() + optout.hold_timeout
            footer = link() if link is not None else account.config.footer if footer is None else footer
            held = self._held[key] = _Held(
                session, deadline, concat.total, concat.reference, message.sar, footer
            )
            self.arm(deadline)
        message_id = new_message_id(account.message_ids)
        held.parts[concat.seq] = (pdu, message.text, message_id)
        if len(held.parts) == held.total:
            del self._held[key]
            self.spawn(self._release, session, account, held, True)
        # Held, but answered at once: many ESMEs send part n+1 only after part n's response.
        return Respond(make_response(pdu, CommandStatus.ESME_ROK, message_id=message_id))

    def next_deadline(self) -> float | None:
        """When the first held message is due to go out incomplete, or None if none is held."""
        return min((held.deadline for held in self._held.values()), default=None)

    def expire(self, now: float) -> None:
        """Send the messages whose time is up as they are (the parts received)."""
        for key, held in list(self._held.items()):
            if held.deadline <= now:
                del self._held[key]
                self.log.warning(
                    "split message incomplete; sending the parts received as they are",
                    received=len(held.parts),
                    total=held.total,
                )
                self.spawn(self._release, held.session, None, held, False)

    async def _release(
        self, session: SessionInfo[Any], account: AccountPolicy | None, held: _Held, complete: bool
    ) -> None:
        ordered = [held.parts[seq] for seq in sorted(held.parts)]
        our_ids = [message_id for _, _, message_id in ordered]
        first = ordered[0][0]
        parts: list[Any]
        if complete and account is not None:
            text = "".join(part_text for _, part_text, _ in ordered)
            data_coding = first.data_coding
            if not has_footer(text, held.footer):
                text, data_coding = append_footer(text, held.footer, data_coding)
                self.metrics.footers[account.config.system_id] += 1
            parts = text_parts(
                first,
                text,
                data_coding,
                use_payload=account.config.long_messages == "payload",
                reference=held.reference,
                sar=held.sar,
            )
            asked = [pdu.registered_delivery for pdu, _, _ in ordered]
            owners = part_owners(len(ordered), len(parts))
            # Each upstream part asks for what the client parts it answers for asked (not part 1's).
            parts = [
                replace(part, registered_delivery=_union(asked[k] for k in owners[j]))
                for j, part in enumerate(parts)
            ]
        else:
            parts = [pdu for pdu, _, _ in ordered]
            owners = [(i,) for i in range(len(parts))]
        receipts = self.receipts
        for i, part in enumerate(parts):

            def record(resp: Pdu, i: int = i) -> None:
                smsc_id = getattr(resp, "message_id", "")
                if resp.command_status == CommandStatus.ESME_ROK and smsc_id:
                    wanted = tuple(
                        (our_ids[k], ordered[k][0].registered_delivery & _SMSC_RECEIPT) for k in owners[i]
                    )
                    receipts.record_for(smsc_id, wanted)

            try:
                resp = await session.transmit(part, record)
            except Exception as exc:
                self.log.warning("held segment not sent", error=str(exc))
                return
            if resp.command_status != CommandStatus.ESME_ROK:
                self.log.warning("held segment refused", status=f"0x{resp.command_status:08x}")


#: registered_delivery bits 1-0: the SMSC delivery receipt asked for (1 any outcome, 2 failure only).
_SMSC_RECEIPT = 0x03


def part_owners(client_parts: int, upstream_parts: int) -> list[tuple[int, ...]]:
    """For each upstream part of a re-cut message, the client parts whose receipts it carries: part j
    answers for client part j, the last upstream part also for every client part beyond it (three
    short client parts in two upstream parts), and an upstream part beyond the client's for none."""
    owners: list[tuple[int, ...]] = [(j,) if j < client_parts else () for j in range(upstream_parts)]
    if upstream_parts and client_parts > upstream_parts:
        owners[-1] = tuple(range(upstream_parts - 1, client_parts))
    return owners


def _union(registered: Any) -> int:
    out = 0
    for value in registered:
        out |= value
    return out
