"""A marketing submit_multi whose footer carries ``{optout_url}``: one submit_sm per recipient.

A link's token names one number, and one submit_multi carries one text to every destination, so
the message is fanned out: each SME-address destination gets a submit_sm of its own with its own
link, sent through the session's transmit bind. Distribution lists (names the SMSC expands) and
addresses that are not phone numbers cannot be linked: they stay in one submit_multi with the
placeholder dropped. The ESME gets one submit_multi_resp: Stopgate's own message id, with every
destination that was refused (suppressed, no consent, or refused by the SMSC) in unsuccess_sme.
Receipts for the recipients' messages carry that one id, as an SMSC's receipts for a submit_multi do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import anyio

from gateway.policy.decisions import Respond, SessionInfo
from gateway.policy.messages import footer_parts
from gateway.smpp.constants import CommandStatus
from gateway.smpp.fields import Dest, UnsuccessSme
from gateway.smpp.pdu import Pdu, SubmitMulti, SubmitMultiResp, SubmitSm, make_response

from .accounts import OPTOUT_URL, AccountPolicy
from .audit import campaign_of
from .ids import new_message_id
from .receipts import ReceiptIds

#: Recipients of one submit_multi in flight at once (the SMSC's window is shared with other traffic).
CONCURRENT_RECIPIENTS = 8
#: registered_delivery bits 1-0: the SMSC delivery receipt asked for.
_SMSC_RECEIPT = 0x03


def recipient_submit(pdu: SubmitMulti, dest: Dest) -> SubmitSm:
    """The submit_sm that carries ``pdu``'s message to one of its destinations."""
    return SubmitSm(
        service_type=pdu.service_type,
        source_addr_ton=pdu.source_addr_ton,
        source_addr_npi=pdu.source_addr_npi,
        source_addr=pdu.source_addr,
        dest_addr_ton=dest.ton,
        dest_addr_npi=dest.npi,
        destination_addr=dest.address,
        esm_class=pdu.esm_class,
        protocol_id=pdu.protocol_id,
        priority_flag=pdu.priority_flag,
        schedule_delivery_time=pdu.schedule_delivery_time,
        validity_period=pdu.validity_period,
        registered_delivery=pdu.registered_delivery,
        replace_if_present_flag=pdu.replace_if_present_flag,
        data_coding=pdu.data_coding,
        sm_default_msg_id=pdu.sm_default_msg_id,
        short_message=pdu.short_message,
        tlvs=pdu.tlvs,
    )


def with_footer(pdu: SubmitSm | SubmitMulti, footer: str) -> Pdu:
    """``pdu`` with the footer, in one PDU: message_payload when it outgrows one segment (a message
    fanned out to many is not also split into parts per recipient)."""
    parts = footer_parts(pdu, footer, use_payload=False, reference=0)
    if parts is None:
        return pdu
    if len(parts) > 1:
        parts = footer_parts(pdu, footer, use_payload=True, reference=0)
        assert parts is not None
    return parts[0]


class LinkedMulti:
    """Fans one submit_multi out to its recipients, each with a link of its own."""

    def __init__(self, receipts: ReceiptIds, log: Any) -> None:
        self.receipts = receipts
        self.log = log

    async def send(
        self,
        session: SessionInfo[Any],
        account: AccountPolicy,
        pdu: SubmitMulti,
        refused: tuple[UnsuccessSme, ...],
        links: Callable[[str, str, str | None, str | None], str],
    ) -> Respond:
        """Send ``pdu`` (its permitted destinations) recipient by recipient; the ESME's answer."""
        footer = account.config.footer
        scope, system_id = account.scope, account.config.system_id
        campaign = campaign_of(account, pdu) or None
        ours = new_message_id(account.message_ids)
        failed: list[UnsuccessSme] = []
        sent = 0
        unlinked: list[Dest] = []
        jobs: list[tuple[tuple[Dest, ...], Pdu]] = []
        for dest in pdu.dests:
            number = account.normalize(dest.address, dest.ton) if dest.dest_flag == 1 else None
            if number is None:
                unlinked.append(dest)
                continue
            link = links(scope, number, system_id, campaign)
            jobs.append(((dest,), with_footer(recipient_submit(pdu, dest), footer.replace(OPTOUT_URL, link))))
        if unlinked:
            rest = replace(pdu, dests=tuple(unlinked))
            jobs.append((tuple(unlinked), with_footer(rest, footer.replace(OPTOUT_URL, "").strip())))
        limiter = anyio.CapacityLimiter(CONCURRENT_RECIPIENTS)
        asked = pdu.registered_delivery & _SMSC_RECEIPT

        def record(resp: Pdu) -> None:
            smsc_id = getattr(resp, "message_id", "")
            if resp.command_status == CommandStatus.ESME_ROK and smsc_id:
                self.receipts.record_for(smsc_id, ((ours, asked),))

        async def one(dests: tuple[Dest, ...], out: Pdu) -> None:
            nonlocal sent
            async with limiter:
                try:
                    resp = await session.transmit(out, record)
                except Exception as exc:
                    self.log.warning("submit_multi recipient not sent", error=str(exc))
                    status: int = CommandStatus.ESME_RSYSERR
                else:
                    status = resp.command_status
                    if status == CommandStatus.ESME_ROK:
                        # A submit_multi the SMSC took may still list destinations it refused.
                        failed.extend(getattr(resp, "unsuccess_smes", ()))
                        sent += 1
                        return
            failed.extend(UnsuccessSme(d.ton, d.npi, d.address, status) for d in dests)

        async with anyio.create_task_group() as tg:
            for dests, out in jobs:
                tg.start_soon(one, dests, out)
        statuses = {u.status for u in failed}
        if not sent and not refused and len(statuses) == 1:
            # Nothing went anywhere, all for one reason (the SMSC down, say): the ESME sees that
            # status, so a temporary failure is retried as it would be without Stopgate.
            return Respond(make_response(pdu, statuses.pop()))
        return Respond(
            SubmitMultiResp(
                sequence_number=pdu.sequence_number, message_id=ours, unsuccess_smes=refused + tuple(failed)
            )
        )
