"""Pooled mode (``[[route]]`` configured): Stopgate holds each upstream's binds and routes every
submit of every ESME session over them.

Per submit: the route table (:class:`~gateway.policy.routes.RouteTable`) is looked up by account,
destination (E.164, normalised as the suppression check normalises it), source address and
service_type; the rule's strategy picks one of its upstreams that is not down; the pool picks its
bound bind with the fewest requests in flight. No upstream of the rule up: ESME_RMSGQFUL, a temporary
error ESMEs retry (the ESME's bind stays accepted whatever the SMSCs' state, as Kannel and Jasmin do).
Every bind's window full: ESME_RTHROTTLED, as in per-session mode.
"""

from __future__ import annotations

from typing import Any

import anyio
import anyio.abc

from gateway.config import AccountConfig, Config
from gateway.metrics import UpstreamSample
from gateway.numbers import address_normalizer
from gateway.policy.routes import RouteRule, RouteTable
from gateway.smpp.constants import CommandId, CommandStatus, Tag
from gateway.smpp.errors import LocalProtocolError, PduTooLarge
from gateway.smpp.fields import find_tlv
from gateway.smpp.pdu import Pdu, SubmitMulti, make_response
from gateway.text.udh import parse_concat, split_udh

from .link import Link, LinkClosed
from .pool import UpstreamPool
from .pool_bind import PoolRelay, Retry
from .pool_deliver import PoolDeliveries
from .pool_events import PoolEvents
from .pool_maps import TtlMap
from .pool_status import UpstreamStatus
from .relay import Parts, RelayContext
from .strategy import RoundRobin, SmoothWeighted

C = CommandId
S = CommandStatus
_SUBMITS = frozenset({C.SUBMIT_SM, C.SUBMIT_MULTI, C.DATA_SM})
_UDHI = 0x40
#: How long the parts of an ESME's concatenated message stay pinned to the bind the first took.
PIN_TTL = 120.0
#: SMSC message ids remembered to route receipts back to the session that sent the message.
MAX_IDS = 500_000
ID_TTL = 72 * 3600.0


class PoolRouter:
    def __init__(self, proxy: Any, config: Config) -> None:
        self.proxy = proxy
        self.clock = proxy.clock
        self.log = proxy.log.bind(leg="router")
        self.pools: dict[str, UpstreamPool] = {}
        self.ids = TtlMap(MAX_IDS, ID_TTL)
        self.pins = TtlMap(100_000, PIN_TTL)
        #: (upstream, route, kind) → count, kind one of submits, errors, throttled, failovers: read by
        #: the metrics at scrape time.
        self.counts: dict[tuple[str, str, str], int] = {}
        self.events = PoolEvents(self)
        self.deliveries = PoolDeliveries(self)
        self._tg: anyio.abc.TaskGroup | None = None
        #: Called with (upstream, up) when an upstream's health changes (``stopgate_upstream_up``).
        self.on_health: Any = None
        self.adopt(config)

    # --- configuration ----------------------------------------------------------------------------

    def adopt(self, config: Config) -> None:
        """Routes swap at once; upstreams added start their pool (when running), removed ones close."""
        self.config = config
        self.table = RouteTable(config.routes)
        self.normalize = address_normalizer(config.numbers.default_country)
        for name, upstream in config.upstreams.items():
            pool = self.pools.get(name)
            if pool is not None and pool.config != upstream:
                self._spawn(pool.close)
                pool = None
            if pool is None:
                pool = self.pools[name] = UpstreamPool(self, upstream)
                if self._tg is not None:
                    self._tg.start_soon(pool.run)
        for name in [n for n in self.pools if n not in config.upstreams]:
            self._spawn(self.pools.pop(name).close)
        self._rules: dict[str, tuple[tuple[UpstreamPool, ...], Any]] = {}
        for rule in config.routes:
            pools = tuple(self.pools[u] for u in rule.upstreams)
            turns: Any = None
            if rule.strategy == "round_robin":
                turns = RoundRobin()
            elif rule.strategy == "weighted":
                turns = SmoothWeighted(rule.weights)
            self._rules[rule.name] = (pools, turns)
        self.deliveries.adopt(config)

    def _spawn(self, func: Any) -> None:
        if self._tg is not None:
            self._tg.start_soon(func)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        async with anyio.create_task_group() as tg:
            self._tg = tg
            for pool in self.pools.values():
                tg.start_soon(pool.run)
            task_status.started()

    async def wait_answered(self, timeout: float) -> None:
        """Until no pool bind has a request in flight (bounded)."""
        with anyio.move_on_after(timeout):
            for pool in list(self.pools.values()):
                for bind in pool.binds:
                    if bind.link is not None:
                        await bind.link.wait_answered(timeout)

    async def close(self) -> None:
        async with anyio.create_task_group() as tg:
            for pool in self.pools.values():
                tg.start_soon(pool.close)

    # --- choosing ---------------------------------------------------------------------------------

    def rule_for(self, system_id: str, pdu: Any) -> RouteRule | None:
        if type(pdu) is SubmitMulti:
            dests = pdu.dests
            address, ton = (dests[0].address, dests[0].ton) if dests else ("", 0)
        else:  # submit_sm, data_sm
            address, ton = pdu.destination_addr, pdu.dest_addr_ton
        if ton == 1 and address.isdigit() and address[:1] != "0":
            digits = address  # international: its E.164 digits already (the common case, no parse)
        else:
            number = self.normalize(address, ton) if address else None
            digits = number[1:] if number else ""
        return self.table.match(system_id, digits, pdu.source_addr, pdu.service_type)

    def choose(self, rule: RouteRule, skip: UpstreamPool | None = None) -> UpstreamPool | None:
        """The upstream of ``rule`` its strategy picks among those up (and not ``skip``)."""
        pools, turns = self._rules[rule.name]
        chosen: UpstreamPool
        if turns is None:  # failover (or a single upstream): the first up, in order
            for chosen in pools:
                if (
                    chosen.up
                    and chosen is not skip
                    and (chosen.breaker.state == "closed" or chosen.probe_ready())
                ):
                    break
            else:
                return None
        else:
            usable = [
                p.up and p is not skip and (p.breaker.state == "closed" or p.probe_ready()) for p in pools
            ]
            index = turns.pick(usable)
            if index is None:
                return None
            chosen = pools[index]
        if chosen.breaker.state != "closed" and not chosen.breaker.allow(self.clock()):
            return None  # half-open with its probe already out
        return chosen

    # --- ESME → pools -----------------------------------------------------------------------------

    def forward(self, session: Any, pdu: Pdu, sequence: int, on_response: Any, frame: bytes | None) -> None:
        """Relay one request of ``session`` through a pool (the pooled ``_forward_up``)."""
        esme = session.esme
        if pdu.command_id not in _SUBMITS:
            self._other(session, pdu, sequence, on_response)
            return
        # An ESME's own concatenated part (UDHI, or TLVs that may be SAR ones): pinned to one bind.
        pin = _concat_key(session.session_id, pdu) if pdu.esm_class & _UDHI or pdu.tlvs else None  # type: ignore[attr-defined]
        link: Link | None = None
        retry: Retry | None = None
        if pin is not None:
            pinned = self.pins.get(pin, self.clock())
            if pinned is not None and not pinned[1].closed:
                pool, link, route = pinned
        if link is None:
            rule = self.rule_for(session.account.system_id, pdu)
            pool = self.choose(rule) if rule is not None else None
            if pool is None:
                esme.respond(make_response(pdu, S.ESME_RMSGQFUL), sequence)
                return
            link = pool.link()
            if link is None:
                esme.respond(make_response(pdu, S.ESME_RTHROTTLED), sequence)
                return
            assert rule is not None
            route = rule.name
            if pin is not None:
                self.pins.put(pin, (pool, link, route), self.clock())
            elif rule.strategy == "failover" and len(rule.upstreams) > 1:
                retry = Retry(pdu, frame, on_response, rule, pool.name)
        bucket = pool.bucket
        if bucket is not None:
            now = self.clock()
            if pool.waiting or not bucket.take(now):
                self._wait_for_token(
                    session, pool, link, pdu, sequence, on_response, frame, route, retry, now
                )
                return
        self.send(session, pool, link, pdu, sequence, on_response, frame, route, retry)

    def count(self, upstream: str, route: str, kind: str, count: int = 1) -> None:
        key = (upstream, route, kind)
        counts = self.counts
        counts[key] = counts.get(key, 0) + count

    def _wait_for_token(
        self, session: Any, pool: UpstreamPool, link: Link, pdu: Pdu, sequence: int, on_response: Any,
        frame: bytes | None, route: str, retry: Retry | None, now: float,
    ) -> None:  # fmt: skip
        throttled = make_response(pdu, S.ESME_RTHROTTLED)
        if pool.config.max_tps_wait <= 0:
            pool.throttled += 1
            self.count(pool.name, route, "throttled")
            session.esme.respond(throttled, sequence)
            return

        def send() -> None:
            target = link if not link.closed else pool.link()
            if target is None:
                session.esme.respond(make_response(pdu, S.ESME_RMSGQFUL), sequence)
            else:
                self.send(session, pool, target, pdu, sequence, on_response, frame, route, retry)

        def refuse() -> None:
            pool.throttled += 1
            self.count(pool.name, route, "throttled")
            session.esme.respond(throttled, sequence)

        pool.wait_for_token(now, send, refuse)

    def send(
        self, session: Any, pool: UpstreamPool, link: Link, pdu: Pdu, sequence: int, on_response: Any,
        frame: bytes | None, route: str, retry: Retry | None = None,
    ) -> None:  # fmt: skip
        if on_response is None:
            context = PoolRelay(session, sequence, pool, route, retry)
            relay = True
        else:
            context = PoolRelay(session, RelayContext(sequence, on_response), pool, route, retry)
            relay = False
        try:
            link.send_nowait(pdu, context, frame, relay=relay)
            pool.submits += 1
            key = (pool.name, route, "submits")
            counts = self.counts
            counts[key] = counts.get(key, 0) + 1
        except PduTooLarge as exc:
            session.log.warning("request too large to relay", error=str(exc))
            session.esme.respond(make_response(pdu, S.ESME_RINVMSGLEN), sequence)
            return
        except LocalProtocolError:  # the bind went away since it was chosen (waiting for a token)
            again = pool.link()
            if again is None or again is link:
                session.esme.respond(make_response(pdu, S.ESME_RMSGQFUL), sequence)
            else:
                self.send(session, pool, again, pdu, sequence, on_response, frame, route, retry)
            return

    def send_parts(self, session: Any, parts: Parts) -> None:
        """Stopgate's own split: every part on the one bind chosen for the first, in order."""
        request = parts.request
        esme = session.esme
        rule = self.rule_for(session.account.system_id, request)
        pool = self.choose(rule) if rule is not None else None
        link = pool.link() if pool is not None else None
        if pool is None or link is None:
            status = S.ESME_RMSGQFUL if pool is None else S.ESME_RTHROTTLED
            esme.respond(make_response(request, status), parts.sequence_number)
            return
        if pool.bucket is not None:
            now = self.clock()
            for _ in parts.decision.parts:  # the parts go as their predecessors are accepted: never held
                pool.bucket.force(now)
        parts.link = link
        parts.context = PoolRelay(session, parts, pool, rule.name)  # type: ignore[union-attr]
        pool.submits += len(parts.decision.parts)
        self.count(pool.name, rule.name, "submits", len(parts.decision.parts))  # type: ignore[union-attr]
        session.parts.send(parts)

    def in_flight(self, session: Any) -> int:
        """Requests of ``session`` sent on a pool bind and not answered yet."""
        count = 0
        for pool in self.pools.values():
            for bind in pool.binds:
                link = bind.link
                if link is not None and not link.closed:
                    count += sum(
                        1
                        for context in link.conn.outstanding_contexts()
                        if type(context) is PoolRelay and context.session is session
                    )
        return count

    def failover(self, relay: PoolRelay, status: int) -> bool:
        """Send a request the SMSC refused with a temporary status once on the rule's next upstream."""
        retry = relay.retry
        session = relay.session
        if retry is None or session.esme.closed:
            return False
        pool = self.choose(retry.rule, skip=relay.pool)
        link = pool.link() if pool is not None else None
        if pool is None or link is None:
            return False
        relay.pool.failovers += 1
        self.count(relay.pool.name, retry.rule.name, "failovers")
        sequence = relay.context if type(relay.context) is int else relay.context.sequence_number  # type: ignore[attr-defined]
        session.log.info(
            "failover", route=retry.rule.name, src=relay.pool.name, to=pool.name, status=f"0x{status:08x}"
        )
        self.send(session, pool, link, retry.pdu, sequence, retry.on_response, retry.frame, retry.rule.name)
        return True

    def _other(self, session: Any, pdu: Pdu, sequence: int, on_response: Any) -> None:
        """query_sm, cancel_sm, replace_sm: to the upstream that took the message, if known."""
        message_id = getattr(pdu, "message_id", "")
        now = self.clock()
        pool = next((p for p in self.pools.values() if self.ids.get((p.name, message_id), now)), None)
        if pool is None:
            rule = self.table.match(session.account.system_id, "")
            pool = self.choose(rule) if rule is not None else None
        link = pool.link() if pool is not None else None
        if pool is None or link is None:
            session.esme.respond(make_response(pdu, S.ESME_RSYSERR), sequence)
            return
        self.send(session, pool, link, pdu, sequence, on_response, None, "")

    # --- the proxy's own requests -----------------------------------------------------------------

    async def transmit(
        self, account: AccountConfig, pdu: Pdu, on_response: Any = None, owner: tuple[str, str] | None = None
    ) -> Pdu:
        """A request Stopgate sends for ``account`` (a held message's parts, a confirmation): routed,
        the parts of one message pinned to one bind as an ESME's own are; the SMSC's message id is
        remembered for the receipts (to ``owner``, the session, when one asked)."""
        now = self.clock()
        pin = _concat_key("account:" + account.system_id, pdu)
        pinned = self.pins.get(pin, now) if pin is not None else None
        if pinned is not None and not pinned[1].closed:
            pool, link, _ = pinned
        else:
            rule = self.rule_for(account.system_id, pdu)
            chosen = self.choose(rule) if rule is not None else None
            if chosen is None:
                raise LinkClosed(f"no upstream of route {rule.name if rule else '-'} is up")
            pool, link = chosen, chosen.link()
            if link is None:
                raise LinkClosed(f"upstream {pool.name} has no bind with room")
            if pin is not None:
                self.pins.put(pin, (pool, link, rule.name if rule else ""), now)
        pool.submits += 1
        resp: Pdu = await link.request(pdu, self.proxy.config.session.response_timeout, on_response)
        message_id = getattr(resp, "message_id", "")
        if message_id and resp.command_status == S.ESME_ROK:
            self.ids.put((pool.name, message_id), owner or (account.system_id, ""), self.clock())
        return resp

    async def request(self, pool: UpstreamPool, pdu: Pdu, on_response: Any = None) -> Pdu:
        link = pool.link()
        if link is None:
            raise LinkClosed(f"upstream {pool.name} has no bind up")
        pool.submits += 1
        return await link.request(pdu, self.proxy.config.session.response_timeout, on_response)

    # --- what operators see -----------------------------------------------------------------------

    def status(self) -> list[UpstreamStatus]:
        return [pool.status() for pool in self.pools.values()]

    def samples(self) -> list[UpstreamSample]:
        """What the metrics export per upstream, route and bind (read at scrape time)."""
        by_upstream: dict[str, dict[tuple[str, str], int]] = {}
        for (upstream, route, kind), value in list(self.counts.items()):
            by_upstream.setdefault(upstream, {})[route, kind] = value
        return [
            (pool.name, pool.health, [b.state for b in pool.binds], by_upstream.get(pool.name, {}))
            for pool in list(self.pools.values())
        ]

    def health(self) -> list[tuple[str, str, bool]]:
        """(account, upstream, up) for each account's default route (the route of a submit that
        matches no prefix): up when one of its upstreams is, named by the first up (else the first)."""
        out = []
        now = self.clock()
        for system_id in self.config.accounts:
            rule = self.table.match(system_id, "")
            if rule is None:
                continue
            pools = self._rules[rule.name][0]
            up = next((p for p in pools if p.ready(now)), None)
            out.append((system_id, (up or pools[0]).name, up is not None))
        return out


def _concat_key(session_id: str, pdu: Pdu) -> tuple[str, str, int] | None:
    """(session, destination, reference) of an ESME's concatenated part (UDH or SAR), else None."""
    if getattr(pdu, "esm_class", 0) & _UDHI:
        try:
            udh, _ = split_udh(getattr(pdu, "short_message", b"") or b"")
        except ValueError:
            return None
        concat = parse_concat(udh)
        if concat is None:
            return None
        return (session_id, getattr(pdu, "destination_addr", ""), concat.reference)
    tlvs = getattr(pdu, "tlvs", ())
    if tlvs:
        ref = find_tlv(tlvs, Tag.SAR_MSG_REF_NUM)
        if ref is not None:
            return (session_id, getattr(pdu, "destination_addr", ""), int.from_bytes(ref, "big"))
    return None
