"""Prometheus metrics.

Per-PDU and per-footer counts are plain dict increments on the hot path, exposed by custom collectors
at scrape time: a labelled prometheus_client Counter costs over a microsecond per ``labels().inc()``,
five times per relayed marketing message. Everything else uses ordinary prometheus_client instruments
on a private registry.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, ProcessCollector
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.smpp.constants import RESPONSE_BIT, CommandId

_COMMAND_NAMES = {int(c): c.name.lower() for c in CommandId}
#: Counted under ``status="other"``: a command_status no response can legitimately carry (outside
#: 0x00-0xFF and the vendor range 0x400-0x4FF), or any non-zero one on a request. The peer writes
#: that field, so without this it could add a new series, and memory, with every PDU.
OTHER_STATUS = -1

PduKey = tuple[str, str, int, int]


def status_label(command_id: int, status: int) -> int:
    """The status a PDU is counted under: its own, or OTHER_STATUS (see there)."""
    if status > 0x4FF or 0xFF < status < 0x400 or command_id < RESPONSE_BIT:  # a request
        return OTHER_STATUS
    return status


class PduCounts:
    """Every PDU the links received and sent, by (leg, "in" or "out", command_id, status label).

    Each link counts its PDUs of status 0 (nearly all of them) in a :class:`LinkCounts` of its own,
    keyed by command_id alone: four counts per relayed message, so the cheapest count there is. They
    are added up when read, and into the totals for good when the link ends.
    """

    def __init__(self) -> None:
        self.totals: defaultdict[PduKey, int] = defaultdict(int)
        self._live: dict[int, LinkCounts] = {}

    def for_link(self, leg: str) -> LinkCounts:
        counts = LinkCounts(self, leg)
        self._live[id(counts)] = counts
        return counts

    def snapshot(self) -> dict[PduKey, int]:
        out = defaultdict(int, self.totals)
        for counts in list(self._live.values()):
            for command_id, value in list(counts.received.items()):
                if value:
                    out[counts.leg, "in", command_id, 0] += value
            for command_id, value in list(counts.sent.items()):
                if value:
                    out[counts.leg, "out", command_id, 0] += value
        return dict(out)

    def get(self, key: PduKey, default: int = 0) -> int:
        return self.snapshot().get(key, default)


#: A link's counts start at 0 for every command: ``received[command_id] += 1`` then works on a plain
#: dict, whose subscript the interpreter specialises (a defaultdict's takes the generic path).
_ZERO_COUNTS: dict[int, int] = dict.fromkeys(CommandId, 0)


class LinkCounts:
    """One link's counts of status-0 PDUs by command_id (``received[command_id] += 1``: every
    CommandId is there from the start, and every PDU and Relayed frame a link counts carries one);
    other statuses go through :meth:`add`."""

    __slots__ = ("leg", "owner", "received", "sent")

    def __init__(self, owner: PduCounts, leg: str) -> None:
        self.owner = owner
        self.leg = leg
        self.received: dict[int, int] = dict(_ZERO_COUNTS)
        self.sent: dict[int, int] = dict(_ZERO_COUNTS)

    def add(self, direction: str, command_id: int, status: int, count: int = 1) -> None:
        if status:
            self.owner.totals[self.leg, direction, command_id, status_label(command_id, status)] += count
        else:
            counts = self.received if direction == "in" else self.sent
            counts[command_id] = counts.get(command_id, 0) + count

    def close(self) -> None:
        """The link ended: its counts join the totals (once)."""
        if self.owner._live.pop(id(self), None) is None:
            return
        totals = self.owner.totals
        for command_id, value in self.received.items():
            if value:
                totals[self.leg, "in", command_id, 0] += value
        for command_id, value in self.sent.items():
            if value:
                totals[self.leg, "out", command_id, 0] += value


class _PduCollector(Collector):
    def __init__(self, counts: PduCounts) -> None:
        self.counts = counts

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(
            "stopgate_pdus",
            "PDUs by leg, direction, command and status",
            labels=["leg", "direction", "command", "status"],
        )
        for (leg, direction, command_id, status), value in self.counts.snapshot().items():
            shown = "other" if status == OTHER_STATUS else f"0x{status:08x}"
            family.add_metric([leg, direction, _COMMAND_NAMES.get(command_id, hex(command_id)), shown], value)
        yield family


class _LabelCounts(Collector):
    """A counter with one label whose increments are dict increments (``counts[label] += 1``)."""

    def __init__(self, name: str, documentation: str, label: str) -> None:
        self.name, self.documentation, self.label = name, documentation, label
        self.counts: dict[str, int] = defaultdict(int)

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name, self.documentation, labels=[self.label])
        for value, count in list(self.counts.items()):
            family.add_metric([value], count)
        yield family


#: One upstream of the pooled mode at scrape time: (name, health, each bind's state, counts by
#: (route, kind)). Plain data, so the metrics depend on nothing of the proxy.
UpstreamSample = tuple[str, str, list[str], dict[tuple[str, str], int]]

_UPSTREAM_COUNTERS = ("submits", "errors", "throttled", "failovers")


class _UpstreamCollector(Collector):
    """Pooled mode: submits, errors, throttled and failovers per upstream and route; each pool bind's
    state. Read from the router's own counts at scrape time (no labelled instrument on the hot path)."""

    def __init__(self) -> None:
        self.source: Callable[[], list[UpstreamSample]] | None = None

    def collect(self) -> Iterator[Metric]:
        samples = self.source() if self.source is not None else []
        if not samples:
            return
        counters = {
            kind: CounterMetricFamily(
                f"stopgate_upstream_{kind}",
                f"Pooled mode: {kind} by upstream and route",
                labels=["upstream", "route"],
            )
            for kind in _UPSTREAM_COUNTERS
        }
        binds = GaugeMetricFamily(
            "stopgate_upstream_bind_state",
            "Pooled mode: 1 when the bind is bound, else 0",
            labels=["upstream", "bind"],
        )
        for name, _health, bind_states, counts in samples:
            for (route, kind), value in counts.items():
                counters[kind].add_metric([name, route], value)
            for index, state in enumerate(bind_states):
                binds.add_metric([name, str(index)], 1.0 if state == "bound" else 0.0)
        yield from counters.values()
        yield binds


def _task_count() -> int:
    """asyncio tasks alive (scraped on the event loop; 0 from anywhere else)."""
    try:
        return len(asyncio.all_tasks())
    except RuntimeError:
        return 0


class Metrics:
    """Every metric Stopgate exports, on one registry."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.pdu_counts = PduCounts()
        self.registry.register(_PduCollector(self.pdu_counts))
        r = self.registry
        self.bound_sessions = Gauge("stopgate_bound_sessions", "Bound ESME sessions", ["account"], registry=r)
        self.optouts = Counter("stopgate_optouts", "Opt-outs recorded", ["scope", "channel"], registry=r)
        self.optins = Counter(
            "stopgate_optins", "Opt-ins (re-subscriptions) recorded", ["scope", "channel"], registry=r
        )
        self.help_requests = Counter(
            "stopgate_help_requests", "HELP requests answered", ["scope"], registry=r
        )
        blocked = _LabelCounts("stopgate_blocked_messages", "Messages refused to suppressed numbers", "scope")
        r.register(blocked)
        #: Messages refused, by scope: ``blocked[scope] += 1``.
        self.blocked = blocked.counts
        no_consent = _LabelCounts(
            "stopgate_blocked_no_consent", "Marketing refused for want of live consent", "scope"
        )
        r.register(no_consent)
        #: Marketing refused by ``require_consent``, by scope (issue 16).
        self.blocked_no_consent = no_consent.counts
        footers = _LabelCounts("stopgate_footers_added", "Opt-out footers appended", "account")
        r.register(footers)
        #: Footers appended, by account: ``footers[system_id] += 1`` (once per marketing message).
        self.footers = footers.counts
        splits = _LabelCounts(
            "stopgate_messages_split", "Messages split into segments by Stopgate", "account"
        )
        r.register(splits)
        #: Messages split, by account: ``splits[system_id] += 1``.
        self.splits = splits.counts
        self.confirmations = Counter(
            "stopgate_confirmations_sent", "Confirmations sent to subscribers", ["scope", "kind"], registry=r
        )
        self.bind_lockouts = Counter(
            "stopgate_bind_lockouts",
            'Lockouts after repeated failed binds, by account (unknown system_ids as "unknown")',
            ["account"],
            registry=r,
        )
        self.upstream_up = Gauge(
            "stopgate_upstream_up",
            "1 when the upstream is reachable (a bound session's link, else the TCP connect probe)",
            ["upstream"],
            registry=r,
        )
        self.mo_evicted = Counter(
            "stopgate_mo_messages_evicted",
            "Incomplete long MO messages dropped from reassembly (too many pending, or reference reused)",
            registry=r,
        )
        self.rejected = Counter(
            "stopgate_rejected_pdus", "Malformed or out-of-state PDUs", ["leg", "status"], registry=r
        )
        self.store_commit = Histogram(
            "stopgate_store_commit_seconds",
            "Time to durably commit an opt-out or opt-in",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=r,
        )
        self.proxy_latency = Histogram(
            "stopgate_proxy_added_latency_seconds",
            "Time a message spends inside the proxy (request in to request out), sampled",
            buckets=(0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1),
            registry=r,
        )
        self.suppressed_numbers = Gauge(
            "stopgate_suppressed_numbers", "Numbers in the suppression index", registry=r
        )
        self.store_ready = Gauge("stopgate_store_ready", "1 when the store accepts commits", registry=r)
        self.feed_lag = Gauge(
            "stopgate_feed_lag_seconds",
            "How far the suppression index may be behind the store (+Inf before the first sync)",
            registry=r,
        )
        self.feed_blind = Gauge(
            "stopgate_feed_blind",
            "1 while the feed is behind by more than optout.max_feed_lag (marketing refused)",
            registry=r,
        )
        self.blind_refusals = Counter(
            "stopgate_blind_refusals",
            "Marketing messages refused with a temporary error while the feed was behind",
            registry=r,
        )
        # Leak detectors: tasks here, and process_open_fds / process_resident_memory_bytes (Linux).
        self.tasks = Gauge("stopgate_tasks", "asyncio tasks alive in the process", registry=r)
        self.tasks.set_function(_task_count)
        #: Pooled mode: set ``upstreams.source`` to a function returning the upstreams' samples.
        self.upstreams = _UpstreamCollector()
        r.register(self.upstreams)
        ProcessCollector(registry=r)
