"""The account's ``web_confirmation`` SMS after a web opt-out.

Sent through one of the account's bound transmit-capable sessions, or, when none is bound (the web
page is used at any hour, not only while the business's ESME is connected), through the proxy's own
service bind to the account's upstream (:meth:`Proxy.service_request`). Best effort, like the keyword
confirmations: a failure is logged and never undoes the opt-out.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from gateway.config import AccountConfig, Config
from gateway.policy.messages import text_parts
from gateway.proxy.server import Proxy
from gateway.smpp.constants import CommandStatus, DataCoding, Npi, Ton
from gateway.smpp.pdu import Pdu, SubmitSm
from gateway.store import Channel, Event, EventType, Store, WebToken
from gateway.text.gsm import is_gsm

log = structlog.get_logger("stopgate.web")


def confirmation_submit(account: AccountConfig, number: str) -> tuple[SubmitSm, str, int]:
    """The submit_sm template (no text yet), the text and its data_coding."""
    text = account.web_confirmation
    coding = DataCoding.SMSC_DEFAULT if is_gsm(text) else DataCoding.UCS2
    sender = account.web_confirmation_from
    digits = sender.lstrip("+")
    # TON: alphanumeric for a name, international for a long number, network-specific for a short code.
    if not digits.isdigit():
        ton = Ton.ALPHANUMERIC
    else:
        ton = Ton.INTERNATIONAL if len(digits) > 8 else Ton.NETWORK_SPECIFIC
    template = SubmitSm(
        source_addr_ton=ton,
        source_addr=digits if digits.isdigit() else sender,
        dest_addr_ton=Ton.INTERNATIONAL,
        dest_addr_npi=Npi.ISDN,
        destination_addr=number.lstrip("+"),
        data_coding=coding,
    )
    return template, text, coding


class WebConfirmations:
    """Sends ``web_confirmation`` for the web page (its ``confirm`` callback)."""

    def __init__(
        self,
        store: Store,
        config: Callable[[], Config],
        proxy: Callable[[], Proxy | None],
        own_message: Callable[[Pdu], object] | None = None,
    ) -> None:
        self.store = store
        #: The config in force (a reload changes it) and the proxy, read at each opt-out.
        self.config = config
        self.proxy = proxy
        #: Sees each accepted response: the confirmation's receipts are not the ESME's to see.
        self.own_message = own_message

    async def __call__(self, token: WebToken) -> None:
        account = self.config().accounts.get(token.account or "")
        proxy = self.proxy()
        if account is None or not account.web_confirmation or not account.web_confirmation_from:
            return
        if proxy is None:
            log.warning("web confirmation not sent: the proxy is not running", account=account.system_id)
            return
        sessions = [
            s
            for s in proxy.sessions
            if s.bound and s.account.system_id == account.system_id and s.bind_mode.can_transmit
        ]
        template, text, coding = confirmation_submit(account, token.number)
        ids = []
        try:
            for part in text_parts(template, text, coding, use_payload=False, reference=0):
                resp: Pdu
                if sessions:
                    resp = await sessions[0].transmit(part, self.own_message)
                else:
                    resp = await proxy.service_request(account.upstream, part, self.own_message)
                if resp.command_status != CommandStatus.ESME_ROK:
                    raise RuntimeError(f"SMSC answered 0x{resp.command_status:08x}")
                ids.append(getattr(resp, "message_id", ""))
            await self.store.append_events(
                [
                    Event(
                        type=EventType.CONFIRMATION_SENT,
                        number=token.number,
                        scope=token.scope,
                        channel=Channel.WEB,
                        account=account.system_id,
                        text=text,
                        message_ids=tuple(ids),
                        reason="web_opt_out",
                    )
                ]
            )
        except Exception as exc:
            log.warning("web confirmation not sent", account=account.system_id, error=str(exc))
