"""The opt-out engine: the policy the proxy consults for every message, in both directions.

Down (deliver_sm / data_sm from the SMSC): receipts pass (with message ids mapped back when Stopgate
issued them); MO text is classified; STOP / START are committed to the store *before* the answer goes
back to the SMSC (a failed commit answers ESME_RX_T_APPN so the SMSC redelivers), the in-memory index
is updated at once, and one confirmation is sent from the address the subscriber texted.

Up (submit_sm / submit_multi / data_sm from the ESME): marketing to a suppressed number is refused
(or accepted and failed by receipt), and the opt-out footer is appended, splitting when needed.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Final

import anyio
import anyio.abc
import structlog

from gateway.config import AccountConfig, Config
from gateway.metrics import Metrics
from gateway.numbers import address_normalizer, is_replyable, normalize_number
from gateway.policy.keywords import Intent, Keywords, Match, classify_mo
from gateway.policy.messages import (
    MessageText,
    footer_frame,
    footer_parts,
    footer_split_parts,
    is_receipt,
    read_text,
    receipt_message_id,
    rewrite_receipt_id,
    text_parts,
)
from gateway.policy.reassembly import Reassembler
from gateway.proxy.hooks import Decision, Defer, Forward, ForwardParts, Respond, SessionInfo
from gateway.smpp.constants import CommandStatus, DataCoding, EsmClass, MessageState, Tag
from gateway.smpp.fields import Tlv, UnsuccessSme, find_tlv
from gateway.smpp.pdu import (
    DataSm,
    DeliverSm,
    Pdu,
    SubmitMulti,
    SubmitMultiResp,
    SubmitSm,
    make_response,
)
from gateway.store.base import Store
from gateway.store.feed import ChangeFollower
from gateway.store.index import SuppressionIndex
from gateway.store.model import Channel, Event, EventType, StoreError
from gateway.text.footer import append_footer, has_footer
from gateway.text.gsm import is_gsm

_MAX_ID_MAP = 200_000
_MAX_CONFIRM_MEMORY = 100_000
_MAX_FOOTER_MEMORY = 1_000_000
_MAX_QUEUED_EVENTS = 100_000
#: Module globals for the refusal path (an enum member read off its class costs ~70 ns on Python 3.11).
_BLOCKED: Final = EventType.BLOCKED
_SMS: Final = Channel.SMS


class BoundedMap(OrderedDict[Any, Any]):
    """An insertion-ordered dict that forgets its oldest entries beyond ``limit``."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: Any, value: Any) -> None:
        super().__setitem__(key, value)
        if len(self) > self.limit:
            self.popitem(last=False)


@dataclass(slots=True)
class AccountPolicy:
    """An account's settings as the engine uses them: keywords compiled once, and what every
    submit_sm reads worked out once (a reload builds a new AccountPolicy)."""

    config: AccountConfig
    keywords: Keywords
    default_country: str
    scope: str = field(init=False)
    marketing: bool = field(init=False)
    checks_suppression: bool = field(init=False)
    #: Every message gets the footer, in short_message: the octet path may answer.
    footer_on_octets: bool = field(init=False)
    #: E.164 for a destination (address, TON) in this account's country, as normalize_number gives.
    normalize: Callable[[str, int], str | None] = field(init=False)

    def __post_init__(self) -> None:
        config = self.config
        self.scope = config.scope
        self.marketing = config.traffic == "marketing"
        self.checks_suppression = self.marketing or config.block_transactional
        self.footer_on_octets = config.footer_mode == "every" and config.long_messages != "payload"
        self.normalize = address_normalizer(self.default_country)


@dataclass(slots=True)
class _Held:
    """Parts of an ESME-split marketing message held until the last one arrives."""

    session: SessionInfo
    deadline: float
    total: int
    reference: int
    sar: bool
    parts: dict[int, tuple[SubmitSm, str, str]] = field(default_factory=dict)  # seq → (pdu, text, our id)


def build_accounts(config: Config) -> dict[str, AccountPolicy]:
    country = config.numbers.default_country
    return {system_id: build_account(account, country) for system_id, account in config.accounts.items()}


def build_account(account: AccountConfig, default_country: str) -> AccountPolicy:
    kw = account.keywords
    keywords = Keywords.from_lists(
        opt_out=kw.opt_out, opt_in=kw.opt_in, help=kw.help, opt_in_if_opted_out=kw.opt_in_if_opted_out
    )
    return AccountPolicy(account, keywords, default_country)


class OptoutPolicy:
    """Implements :class:`gateway.proxy.hooks.Policy`."""

    def __init__(
        self,
        config: Config,
        store: Store,
        index: SuppressionIndex,
        metrics: Metrics | None = None,
        *,
        feed: ChangeFollower | None = None,
        log: Any = None,
    ) -> None:
        self.store = store
        self.index = index
        self.feed = feed or ChangeFollower(store, index, after_id=index.change_id)
        self.metrics = metrics or Metrics()
        self.log = log if log is not None else structlog.get_logger("stopgate.optout")
        self.reload(config)
        self._tg: anyio.abc.TaskGroup | None = None
        self._events: list[Event] = []
        #: Marketing messages sent, by (day, scope, campaign): a plain dict (a Counter's subscript
        #: takes the slow path; this is counted for every message).
        self._sent: dict[tuple[str, str, str], int] = {}
        self._campaigns: dict[tuple[str, str], tuple[str, float]] = {}
        self._last_confirmation: BoundedMap = BoundedMap(_MAX_CONFIRM_MEMORY)
        self._footered: BoundedMap = BoundedMap(_MAX_FOOTER_MEMORY)
        #: SMSC message id → the id Stopgate gave the ESME (held and re-cut messages).
        self._id_map: BoundedMap = BoundedMap(_MAX_ID_MAP)
        #: SMSC message ids of extra segments whose receipts the ESME must not see.
        self._drop_receipts: BoundedMap = BoundedMap(_MAX_ID_MAP)
        self._held: dict[tuple[str, str, int, int], _Held] = {}
        self._first_part_matched: BoundedMap = BoundedMap(10_000)
        self._reference = int.from_bytes(uuid.uuid4().bytes[:1], "big")
        self._day = ""
        self._day_ends = 0.0

    def reload(self, config: Config) -> None:
        """Adopt new accounts, keywords, texts and footers (bound sessions see them at once)."""
        self.config = config
        self.accounts = build_accounts(config)
        self.reassembler = getattr(self, "reassembler", None) or Reassembler(
            timeout=config.optout.reassembly_timeout, max_messages=config.optout.max_held_messages
        )

    # --- background work --------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Background duties: write queued events and counters, release overdue held parts."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            task_status.started()
            try:
                while True:
                    await anyio.sleep(0.2)
                    await self.flush()
                    self._expire(anyio.current_time())
            finally:
                with anyio.CancelScope(shield=True):
                    await self.flush()

    async def flush(self) -> None:
        """Write queued stateless events and sent counters to the store (kept on failure, bounded)."""
        if self._events:
            batch, self._events = self._events, []
            try:
                await self.store.append_events(batch)
            except StoreError as exc:
                self.log.warning("could not write events; will retry", error=str(exc), count=len(batch))
                self._events = (batch + self._events)[-_MAX_QUEUED_EVENTS:]
        if self._sent:
            counts, self._sent = self._sent, {}
            campaigns, self._campaigns = self._campaigns, {}
            rows = [
                (scope, number, campaign, datetime.fromtimestamp(ts, UTC))
                for (scope, number), (campaign, ts) in campaigns.items()
            ]
            try:
                await self.store.add_sent_counts(counts)
                if rows:
                    await self.store.record_last_campaigns(rows)
            except StoreError as exc:
                self.log.warning("could not write sent counters", error=str(exc))
                for key, count in counts.items():  # add back to what was counted meanwhile
                    self._sent[key] = self._sent.get(key, 0) + count

    def _spawn(self, func: Any, *args: Any) -> None:
        if self._tg is None:
            raise RuntimeError("OptoutPolicy.run() is not running")
        self._tg.start_soon(func, *args)

    def _queue_event(self, event: Event) -> None:
        if len(self._events) < _MAX_QUEUED_EVENTS:
            self._events.append(event)

    def _account(self, session: SessionInfo) -> AccountPolicy:
        account = session.account
        policy = self.accounts.get(account.system_id)
        if policy is None:  # removed by a reload while bound: keep serving with what it bound with
            policy = build_account(account, self.config.numbers.default_country)
        return policy

    # --- MO: deliver_sm / data_sm coming down -----------------------------------------------------

    def on_deliver(self, session: SessionInfo, pdu: Pdu) -> Decision:
        assert isinstance(pdu, (DeliverSm, DataSm))
        if is_receipt(pdu):
            return self._receipt(pdu)
        message = read_text(pdu)
        if message is None:
            return Forward(pdu)
        account = self._account(session)
        text = message.text
        concat = message.concat
        if concat is not None and concat.total > 1:
            key = (pdu.source_addr, concat.reference)
            full = self.reassembler.add(key, concat.total, concat.seq, text, anyio.current_time())
            if concat.seq == 1:
                match = classify_mo(text, account.keywords)
                if match is not None:
                    self._first_part_matched[key] = True
            elif full is not None and self._first_part_matched.pop(key, None) is None:
                match = classify_mo(full, account.keywords)
                text = full
            else:
                match = None
        else:
            match = classify_mo(text, account.keywords)
        if match is None:
            return Forward(pdu)
        return Defer(lambda: self._keyword(session, account, pdu, match, text))

    def _receipt(self, pdu: DeliverSm | DataSm) -> Decision:
        if not self._id_map and not self._drop_receipts:
            return Forward(pdu)
        message_id = receipt_message_id(pdu)
        if message_id is None:
            return Forward(pdu)
        if message_id in self._drop_receipts:
            # A segment Stopgate added: the ESME knows one id per message it sent.
            return Respond(make_response(pdu, CommandStatus.ESME_ROK))
        ours = self._id_map.get(message_id)
        if ours is None:
            return Forward(pdu)
        return Forward(rewrite_receipt_id(pdu, ours))

    async def _keyword(
        self, session: SessionInfo, account: AccountPolicy, pdu: DeliverSm | DataSm, match: Match, text: str
    ) -> Forward | Respond:
        number = normalize_number(
            pdu.source_addr, pdu.source_addr_ton, pdu.source_addr_npi, account.default_country
        )
        log = self.log.bind(account=account.config.system_id, scope=account.scope, keyword=match.keyword)
        if number is None:
            log.info("keyword from a sender that is not a phone number; nothing recorded")
            return Forward(pdu)
        scope = account.scope
        if match.intent is Intent.HELP:
            self._queue_event(self._event(EventType.HELP, number, account, match, text))
            self.metrics.help_requests.labels(scope).inc()
            self._confirm(session, account, pdu, number, "help", account.config.help)
        elif match.intent is Intent.OPT_OUT:
            if not await self._commit(EventType.OPT_OUT, number, account, match, text, log):
                # The subscriber said STOP: block from memory meanwhile, whatever the store says.
                await self.feed.hold_unrecorded(scope, number)
                return Respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN))
            self._confirm(session, account, pdu, number, "opt_out", account.config.confirmation)
        else:
            if match.conditional and not self.index.contains(scope, number):
                return Forward(pdu)  # "YES" from a subscribed number is just a message
            if not await self._commit(EventType.OPT_IN, number, account, match, text, log):
                return Respond(make_response(pdu, CommandStatus.ESME_RX_T_APPN))
            self._confirm(session, account, pdu, number, "opt_in", account.config.resubscribe_confirmation)
        if account.config.optout.forward_keywords:
            return Forward(pdu)
        return Respond(make_response(pdu, CommandStatus.ESME_ROK))

    async def _commit(
        self,
        kind: EventType,
        number: str,
        account: AccountPolicy,
        match: Match,
        text: str,
        log: Any,
    ) -> bool:
        """Record an opt-out or opt-in durably and bring the index up to date; False if the store failed."""
        suppress = kind is EventType.OPT_OUT
        started = time.perf_counter()
        try:
            event = self._event(kind, number, account, match, text)
            await (self.store.opt_out(event) if suppress else self.store.opt_in(event))
        except StoreError as exc:
            log.error(f"{kind} NOT recorded; asking the SMSC to redeliver", number=number, error=str(exc))
            return False
        self.metrics.store_commit.observe(time.perf_counter() - started)
        await self.feed.apply_local(account.scope, number, suppress)
        (self.metrics.optouts if suppress else self.metrics.optins).labels(account.scope, "sms").inc()
        # The logging processor masks numbers and hides texts as configured (gateway/logs.py).
        log.info("opted out" if suppress else "opted in", number=number, text=text)
        return True

    @staticmethod
    def _event(
        kind: EventType,
        number: str,
        account: AccountPolicy,
        match: Match | None = None,
        text: str | None = None,
        **extra: Any,
    ) -> Event:
        return Event(
            type=kind,
            number=number,
            scope=account.scope,
            channel=Channel.SMS,
            account=account.config.system_id,
            keyword=match.keyword if match else None,
            text=text,
            **extra,
        )

    def _confirm(
        self,
        session: SessionInfo,
        account: AccountPolicy,
        mo: DeliverSm | DataSm,
        number: str,
        kind: str,
        text: str,
    ) -> None:
        """Send one reply to the subscriber, unless it would loop or has nowhere to go."""
        if not text:
            return
        if not is_replyable(mo.source_addr, mo.source_addr_ton) or not mo.destination_addr:
            self.log.info("no reply to an unreplyable sender", kind=kind)
            return
        now = anyio.current_time()
        key = (account.scope, number, kind)
        last = self._last_confirmation.get(key)
        if last is not None and now - last < account.config.optout.confirmation_window:
            self.log.info("repeated keyword within the confirmation window; no second reply", kind=kind)
            return
        self._last_confirmation[key] = now
        self._spawn(self._send_confirmation, session, account, mo, number, kind, text)

    async def _send_confirmation(
        self,
        session: SessionInfo,
        account: AccountPolicy,
        mo: DeliverSm | DataSm,
        number: str,
        kind: str,
        text: str,
    ) -> None:
        data_coding = DataCoding.SMSC_DEFAULT if is_gsm(text) else DataCoding.UCS2
        template = SubmitSm(
            source_addr_ton=mo.dest_addr_ton,
            source_addr_npi=mo.dest_addr_npi,
            source_addr=mo.destination_addr,
            dest_addr_ton=mo.source_addr_ton,
            dest_addr_npi=mo.source_addr_npi,
            destination_addr=mo.source_addr,
            data_coding=data_coding,
        )
        parts = text_parts(template, text, data_coding, use_payload=False, reference=self._next_reference())
        ids = []
        try:
            for part in parts:
                resp = await session.transmit(part)
                if resp.command_status != CommandStatus.ESME_ROK:
                    raise RuntimeError(f"SMSC answered 0x{resp.command_status:08x}")
                ids.append(getattr(resp, "message_id", ""))
        except Exception as exc:
            self.log.warning("confirmation not sent", kind=kind, error=str(exc))
            self._last_confirmation.pop((account.scope, number, kind), None)
            return
        self.metrics.confirmations.labels(account.scope, kind).inc()
        self._queue_event(
            self._event(
                EventType.CONFIRMATION_SENT, number, account, text=text, message_ids=tuple(ids), reason=kind
            )
        )

    # --- MT: submit_sm / submit_multi / data_sm going up ------------------------------------------

    def on_submit(self, session: SessionInfo, pdu: Pdu) -> Decision:
        account = self.accounts.get(session.account.system_id) or self._account(session)  # (hot path)
        if not account.checks_suppression:
            return Forward(pdu)
        pdu_type = type(pdu)
        if pdu_type is SubmitMulti:
            return self._submit_multi(session, account, pdu)  # type: ignore[arg-type]
        sm: SubmitSm | DataSm = pdu  # type: ignore[assignment]  # the other two submits (no assert: hot path)
        number = account.normalize(sm.destination_addr, sm.dest_addr_ton)
        scope = account.scope
        if number is not None and self.index.contains_e164(scope, number):
            return self._block(session, account, sm, number)
        if not account.marketing:
            return Forward(sm)
        if number is not None:
            self._count_sent(account, sm, number)
        if account.footer_on_octets and pdu_type is SubmitSm:
            config = account.config
            frame = footer_frame(sm, config.footer)  # type: ignore[arg-type]
            if frame is sm.raw:
                return Forward(sm)
            if frame is not None:
                self.metrics.footers[config.system_id] += 1
                return Forward(sm, None, frame)  # (pdu, on_response, frame): a keyword costs ~90 ns
            split = footer_split_parts(sm, config.footer, self._next_reference())  # type: ignore[arg-type]
            if split is not None:
                return self._forward_parts(sm, split, config.system_id)
        message = read_text(sm)
        if message is None:
            return Forward(sm)
        if message.concat is not None and isinstance(sm, SubmitSm):
            return self._hold(session, account, sm, message, number or sm.destination_addr)
        if account.config.footer_mode == "first_in_days" and number is not None:
            now = time.time()
            last = self._footered.get((scope, number))
            if last is not None and now - last < account.config.footer_days * 86400:
                return Forward(sm)
            self._footered[(scope, number)] = now
        parts = footer_parts(
            sm,
            account.config.footer,
            use_payload=account.config.long_messages == "payload",
            reference=self._next_reference(),
            message=message,
        )
        if parts is None:
            return Forward(sm)
        if len(parts) == 1:
            self.metrics.footers[account.config.system_id] += 1
            return Forward(parts[0])
        return self._forward_parts(sm, parts, account.config.system_id)

    def _forward_parts(self, sm: Pdu, parts: Sequence[Pdu], system_id: str) -> ForwardParts:
        """Relay a message the footer split, part by part; the ESME gets one answer."""
        self.metrics.footers[system_id] += 1
        self.metrics.splits[system_id] += 1
        return ForwardParts(parts, functools.partial(self._parts_answer, sm), self._extra_segment)

    def _count_sent(self, account: AccountPolicy, pdu: SubmitSm | DataSm | SubmitMulti, number: str) -> None:
        campaign = pdu.service_type if account.config.campaign_tlv is None else self._campaign(account, pdu)
        now = time.time()
        if now >= self._day_ends:
            self._day = time.strftime("%Y-%m-%d", time.gmtime(now))
            self._day_ends = (now // 86400 + 1) * 86400
        key = (self._day, account.scope, campaign)
        try:
            self._sent[key] += 1
        except KeyError:  # the first of the day for this campaign
            self._sent[key] = 1
        if campaign:  # the report attributes opt-outs to campaigns; without one there is nothing to keep
            self._campaigns[(account.scope, number)] = (campaign, now)

    @staticmethod
    def _campaign(account: AccountPolicy, pdu: SubmitSm | DataSm | SubmitMulti) -> str:
        tag = account.config.campaign_tlv
        if tag is not None:
            value = find_tlv(pdu.tlvs, tag)
            if value is not None:
                return value.rstrip(b"\x00").decode("latin-1")
        return pdu.service_type

    def _block(
        self, session: SessionInfo, account: AccountPolicy, pdu: SubmitSm | DataSm, number: str
    ) -> Respond:
        scope = account.scope
        self.metrics.blocked[scope] += 1
        self._queue_event(
            Event(
                type=_BLOCKED,
                number=number,
                scope=scope,
                channel=_SMS,
                account=account.config.system_id,
                campaign=self._campaign(account, pdu) or None,
            )
        )
        optout = account.config.optout
        if optout.block_mode == "accept_and_fail":
            message_id = self._new_id()
            self._spawn(self._rejected_receipt, session, pdu, message_id)
            return Respond(make_response(pdu, CommandStatus.ESME_ROK, message_id=message_id))
        return Respond(make_response(pdu, optout.block_status))

    async def _rejected_receipt(self, session: SessionInfo, pdu: SubmitSm | DataSm, message_id: str) -> None:
        """For "accept and fail": a receipt saying the message was rejected, as SMSCs send them."""
        stamp = time.strftime("%y%m%d%H%M", time.gmtime())
        text = (
            f"id:{message_id} sub:001 dlvrd:000 submit date:{stamp} done date:{stamp} "
            "stat:REJECTD err:000 text:"
        ).encode("ascii")
        receipt = DeliverSm(
            source_addr_ton=pdu.dest_addr_ton,
            source_addr_npi=pdu.dest_addr_npi,
            source_addr=pdu.destination_addr,
            dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi,
            destination_addr=pdu.source_addr,
            esm_class=EsmClass.SMSC_DELIVERY_RECEIPT,
            short_message=text,
            tlvs=(
                Tlv(Tag.RECEIPTED_MESSAGE_ID, message_id.encode("ascii") + b"\x00"),
                Tlv(Tag.MESSAGE_STATE, bytes((MessageState.REJECTED,))),
            ),
        )
        try:
            await session.send_to_esme(receipt)
        except Exception as exc:
            self.log.info("rejection receipt not delivered", error=str(exc))

    def _submit_multi(self, session: SessionInfo, account: AccountPolicy, pdu: SubmitMulti) -> Decision:
        refused: list[UnsuccessSme] = []
        allowed = []
        status = account.config.optout.block_status
        for dest in pdu.dests:
            if dest.dest_flag == 1:
                number = normalize_number(dest.address, dest.ton, dest.npi, account.default_country)
                if number is not None and self.index.contains(account.scope, number):
                    refused.append(UnsuccessSme(dest.ton, dest.npi, dest.address, status))
                    self.metrics.blocked[account.scope] += 1
                    self._queue_event(self._event(EventType.BLOCKED, number, account))
                    continue
                if number is not None and account.config.traffic == "marketing":
                    self._count_sent(account, pdu, number)
            allowed.append(dest)
        if not allowed:
            return Respond(
                SubmitMultiResp(
                    sequence_number=pdu.sequence_number,
                    message_id=self._new_id(),
                    unsuccess_smes=tuple(refused),
                )
            )
        out: SubmitMulti = pdu if not refused else replace(pdu, dests=tuple(allowed))
        if account.config.traffic == "marketing":
            # submit_multi carries one message to many: a footer that outgrows one segment goes in
            # message_payload rather than being split across many parts to many destinations.
            parts = footer_parts(out, account.config.footer, use_payload=False, reference=0)
            if parts is not None:
                self.metrics.footers[account.config.system_id] += 1
                if len(parts) > 1:
                    parts = footer_parts(out, account.config.footer, use_payload=True, reference=0)
                assert parts is not None
                out = parts[0]  # type: ignore[assignment]
        if not refused:
            return Forward(out)
        extra = tuple(refused)

        def merge(resp: Pdu) -> Pdu:
            if isinstance(resp, SubmitMultiResp):
                return replace(resp, unsuccess_smes=resp.unsuccess_smes + extra)
            return resp

        return Forward(out, merge)

    def _extra_segment(self, index: int, resp: Pdu) -> None:
        """A split message's parts after the first: their receipts are not the ESME's to see (it got
        one message id, the first part's). Recorded as the response is read, before any receipt."""
        if index and resp.command_status == CommandStatus.ESME_ROK:
            self._drop_receipts[getattr(resp, "message_id", "")] = True

    def _parts_answer(self, original: Pdu, responses: list[Pdu]) -> Pdu:
        """The ESME's one response to a message sent in parts: the first part's id, or the refusal."""
        last = responses[-1]
        if last.command_status != CommandStatus.ESME_ROK:
            if len(responses) > 1:
                accepted = len(responses) - 1
                self.log.warning("segment refused after earlier segments were accepted", sent=accepted)
            return make_response(original, last.command_status)
        first_id = getattr(responses[0], "message_id", "")
        return make_response(original, CommandStatus.ESME_ROK, message_id=first_id)

    # --- ESME-split messages ----------------------------------------------------------------------

    def _hold(
        self, session: SessionInfo, account: AccountPolicy, pdu: SubmitSm, message: MessageText, number: str
    ) -> Decision:
        concat = message.concat
        assert concat is not None
        key = (session.session_id, number, concat.reference, concat.total)
        held = self._held.get(key)
        if held is None:
            if len(self._held) >= account.config.optout.max_held_messages:
                return Respond(make_response(pdu, CommandStatus.ESME_RMSGQFUL))
            held = self._held[key] = _Held(
                session,
                anyio.current_time() + account.config.optout.hold_timeout,
                concat.total,
                concat.reference,
                message.sar,
            )
        message_id = self._new_id()
        held.parts[concat.seq] = (pdu, message.text, message_id)
        if len(held.parts) == held.total:
            del self._held[key]
            self._spawn(self._release, session, account, held, True)
        # Held, but answered at once: many ESMEs send part n+1 only after part n's response.
        return Respond(make_response(pdu, CommandStatus.ESME_ROK, message_id=message_id))

    def _expire(self, now: float) -> None:
        for key, held in list(self._held.items()):
            if held.deadline <= now:
                del self._held[key]
                self.log.warning(
                    "split message incomplete; sending the parts received as they are",
                    received=len(held.parts),
                    total=held.total,
                )
                self._spawn(self._release, held.session, None, held, False)
        self.reassembler.expire(now)

    async def _release(
        self, session: SessionInfo | None, account: AccountPolicy | None, held: _Held, complete: bool
    ) -> None:
        ordered = [held.parts[seq] for seq in sorted(held.parts)]
        our_ids = [message_id for _, _, message_id in ordered]
        first = ordered[0][0]
        if complete and session is not None and account is not None:
            text = "".join(part_text for _, part_text, _ in ordered)
            data_coding = first.data_coding
            if not has_footer(text, account.config.footer):
                text, data_coding = append_footer(text, account.config.footer, data_coding)
                self.metrics.footers[account.config.system_id] += 1
            parts: list[Any] = text_parts(
                first,
                text,
                data_coding,
                use_payload=account.config.long_messages == "payload",
                reference=held.reference,
                sar=held.sar,
            )
            transmit = session.transmit
        else:
            parts = [pdu for pdu, _, _ in ordered]
            if session is None:
                return
            transmit = session.transmit
        for i, part in enumerate(parts):

            def record(resp: Pdu, i: int = i) -> None:
                smsc_id = getattr(resp, "message_id", "")
                if resp.command_status != CommandStatus.ESME_ROK or not smsc_id:
                    return
                if i < len(our_ids):
                    self._id_map[smsc_id] = our_ids[i]
                else:
                    self._drop_receipts[smsc_id] = True

            try:
                resp = await transmit(part, record)
            except Exception as exc:
                self.log.warning("held segment not sent", error=str(exc))
                return
            if resp.command_status != CommandStatus.ESME_ROK:
                self.log.warning("held segment refused", status=f"0x{resp.command_status:08x}")

    # --- ids --------------------------------------------------------------------------------------

    @staticmethod
    def _new_id() -> str:
        return "sg" + uuid.uuid4().hex[:20]

    def _next_reference(self) -> int:
        self._reference = (self._reference + 1) & 0xFF
        return self._reference
