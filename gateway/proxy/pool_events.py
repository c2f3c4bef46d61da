"""What arrives on a pool bind: answers to relayed requests, regrouped per ESME session; the SMSC's
requests (receipts and MOs, see :mod:`.pool_deliver`); and what each answer says about the upstream
(the circuit breaker, the rate after ESME_RTHROTTLED, the counters).
"""

from __future__ import annotations

from typing import Any

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.events import Rejected, Relayed, Request, Response
from gateway.smpp.pdu import response_for

from .breaker import FAILURE_STATUSES
from .link import Expired, Link
from .pool import UpstreamPool
from .pool_bind import PoolRelay

C = CommandId
S = CommandStatus
_DELIVERS = frozenset({C.DELIVER_SM, C.DATA_SM})
_ID_RESPONSES = frozenset({C.SUBMIT_SM_RESP, C.DATA_SM_RESP, C.SUBMIT_MULTI_RESP})
#: A refusal with one of these on a failover route is tried once on the route's next upstream.
FAILOVER_STATUSES = FAILURE_STATUSES


class PoolEvents:
    def __init__(self, router: Any) -> None:
        self.router = router

    def on_event(self, pool: UpstreamPool, link: Link, event: Any) -> None:
        event_type = type(event)
        if event_type is Relayed:
            self._relayed(pool, event)
        elif event_type is Response:
            self._response(pool, link, event)
        elif event_type is Request:
            pdu = event.pdu
            command_id = pdu.command_id
            if command_id in _DELIVERS:
                self.router.deliveries.on_deliver(pool, link, pdu)
            elif command_id == C.UNBIND:
                link.answer_unbind(pdu)
                self.router.proxy.task_group.start_soon(link.close, "unbound by SMSC")
            elif command_id != C.ALERT_NOTIFICATION:
                link.reject(pdu, S.ESME_RINVCMDID)
        elif event_type is Expired:
            self._expired(pool, event)
        elif event_type is Rejected:
            self.router.proxy.rejected("upstream", event.error)

    def outcome(self, pool: UpstreamPool, status: int, count: int = 1) -> None:
        """What ``count`` answers of ``status`` say about the upstream."""
        breaker = pool.breaker
        if not status:
            if breaker.state != "closed":
                breaker.success()
                pool.bind_changed()
            else:
                breaker.success()
            return
        now = self.router.clock()
        if status == S.ESME_RTHROTTLED:
            pool.throttled += count
            if pool.bucket is not None:
                pool.bucket.throttled(now)
            return
        pool.errors += count
        if status in FAILURE_STATUSES:
            before = breaker.state
            for _ in range(count):
                breaker.failure(now)
            if breaker.state != before:
                pool.log.warning("circuit breaker", state=breaker.state, status=f"0x{status:08x}")
                pool.bind_changed()

    def _relayed(self, pool: UpstreamPool, event: Relayed) -> None:
        status = event.command_status
        command_id = event.command_id
        self.outcome(pool, status, len(event.frames))
        router = self.router
        retry = status in FAILOVER_STATUSES
        record = not status and command_id in _ID_RESPONSES
        name = pool.name
        ids = router.ids
        items = ids.items
        expires = router.clock() + ids.ttl if record else 0.0
        groups: dict[Any, tuple[list[bytes], list[object]]] = {}
        kind = _kind(status)
        for frame, relay in zip(event.frames, event.contexts, strict=True):
            assert type(relay) is PoolRelay
            if kind:
                router.count(name, relay.route, kind)
            if retry and relay.retry is not None and router.failover(relay, status):
                continue
            session = relay.session
            if record:
                items[name, bytes(frame[16:-1]).decode("latin-1")] = (expires, session.owner)
            group = groups.get(session)
            if group is None:
                groups[session] = ([frame], [relay.context])
            else:
                group[0].append(frame)
                group[1].append(relay.context)
        if record:
            ids.trim()
        for session, (frames, contexts) in groups.items():
            session.esme.relay_responses(Relayed(frames, command_id, status, contexts))

    def _response(self, pool: UpstreamPool, link: Link, event: Response) -> None:
        relay = event.context
        if type(relay) is not PoolRelay:
            return
        pdu = event.pdu
        status = pdu.command_status
        if pdu.command_id == C.GENERIC_NACK and not status:
            status = S.ESME_RSYSERR
        self.outcome(pool, status if pdu.command_id != C.GENERIC_NACK else S.ESME_RSYSERR)
        router = self.router
        kind = _kind(status)
        if kind:
            router.count(pool.name, relay.route, kind)
        if status in FAILOVER_STATUSES and relay.retry is not None and router.failover(relay, status):
            return
        session = relay.session
        if not status and pdu.command_id in _ID_RESPONSES:
            message_id = getattr(pdu, "message_id", "")
            if message_id:
                router.ids.put((pool.name, message_id), session.owner, router.clock())
        session.upstream_response(link, Response(pdu, event.request_id, relay.context))

    def _expired(self, pool: UpstreamPool, event: Expired) -> None:
        waiting = event.outstanding
        relay = waiting.context
        if type(relay) is not PoolRelay:
            return
        if not event.closed:  # a response that never came: trouble at the SMSC (never resent)
            self.outcome(pool, S.ESME_RSYSERR)
            self.router.count(pool.name, relay.route, "errors")
        context = relay.context
        sequence = context if type(context) is int else getattr(context, "sequence_number", None)
        esme = relay.session.esme
        if sequence is None or esme.closed:
            return
        esme.respond(response_for(waiting.command_id, sequence, S.ESME_RSYSERR))
        relay.session.log.info(
            "relayed request unanswered",
            upstream=pool.name,
            closed=event.closed,
            command=waiting.command_id.name.lower(),
        )


def _kind(status: int) -> str:
    """The counter an answer of ``status`` adds to ("" for success)."""
    if not status:
        return ""
    return "throttled" if status == S.ESME_RTHROTTLED else "errors"
