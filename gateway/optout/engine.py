"""The opt-out engine: the policy the proxy consults for every message, in both directions.

It composes the steps, each in a module of its own:

* down (deliver_sm / data_sm from the SMSC): :mod:`~gateway.optout.deliver` (receipts, keywords in MO
  text, long MOs reassembled), :mod:`~gateway.optout.changes` (the durable commit, index and metrics),
  :mod:`~gateway.optout.confirm` (the one reply to the subscriber);
* up (submit_sm / submit_multi / data_sm from the ESME): :mod:`~gateway.optout.submit` (suppression,
  footer, submit_multi), :mod:`~gateway.optout.held` (messages the ESME split, held until complete),
  :mod:`~gateway.optout.receipts` (the receipts of re-cut messages);
* :mod:`~gateway.optout.audit`: events and sent counters written in batches.

Time: one monotonic ``clock`` (a callable, ``time.monotonic`` by default, the event loop's clock under
asyncio) for every deadline and window. :meth:`OptoutPolicy.run` sleeps until the next deadline (a
batch to write, a held message to give up on, a long MO to stop waiting for) and wakes earlier only
when a step arms an earlier one. Dates written to the store come from the wall clock.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc
import structlog

from gateway.config import AccountConfig, Config
from gateway.metrics import Metrics
from gateway.policy.decisions import Decision, SessionInfo
from gateway.policy.mo_routes import MoRouter
from gateway.policy.reassembly import Reassembler
from gateway.smpp.pdu import Pdu
from gateway.store.base import Store
from gateway.store.feed import ChangeFollower
from gateway.store.index import SuppressionIndex

from .accounts import AccountPolicy, build_accounts
from .audit import Audit
from .changes import OptoutChanges
from .confirm import Confirmations
from .deliver import MoPolicy
from .footers import FooterMemory
from .held import HeldMessages
from .ids import ConcatReferences
from .receipt_routes import ReceiptRoutes, shared_upstream_accounts
from .receipts import ReceiptIds
from .submit import MtPolicy


class OptoutPolicy:
    """Implements :class:`gateway.policy.decisions.Policy`."""

    #: Decides on each submit_sm / submit_multi / data_sm: the submit step's own method, so that a
    #: session (which keeps it) pays no call through here on the hot path.
    on_submit: Callable[[SessionInfo[AccountConfig], Pdu], Decision]
    #: Decides on each deliver_sm / data_sm coming down.
    on_deliver: Callable[[SessionInfo[AccountConfig], Pdu], Decision]

    def __init__(
        self,
        config: Config,
        store: Store,
        index: SuppressionIndex,
        metrics: Metrics | None = None,
        *,
        feed: ChangeFollower | None = None,
        log: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.store = store
        self.index = index
        self.feed = feed or ChangeFollower(store, index, after_id=index.change_id)
        self.metrics = metrics or Metrics()
        self.log = log if log is not None else structlog.get_logger("stopgate.optout")
        self.clock = clock
        self.changes = OptoutChanges(store, self.feed, self.metrics, clock=clock)
        self._tg: anyio.abc.TaskGroup | None = None
        #: Set to wake the timer when a step arms a deadline earlier than the one it sleeps until.
        self._wake: anyio.Event | None = None
        self._armed = math.inf

        self.accounts: dict[str, AccountPolicy] = build_accounts(config)
        country = config.numbers.default_country
        self.reassembler = Reassembler(
            timeout=config.optout.reassembly_timeout, max_messages=config.optout.max_held_messages
        )
        self.audit = Audit(store, self.log, clock, self._arm)
        self.receipts = ReceiptIds()
        references = ConcatReferences()
        self.held = HeldMessages(
            receipts=self.receipts,
            metrics=self.metrics,
            log=self.log,
            clock=clock,
            spawn=self._spawn,
            arm=self._arm,
        )
        confirmations = Confirmations(
            audit=self.audit,
            metrics=self.metrics,
            log=self.log,
            clock=clock,
            spawn=self._spawn,
            references=references,
            receipts=self.receipts,
            store=store,
        )
        self.mo = MoPolicy(
            accounts=self.accounts,
            default_country=country,
            reassembler=self.reassembler,
            index=index,
            feed=self.feed,
            changes=self.changes,
            receipts=self.receipts,
            confirmations=confirmations,
            audit=self.audit,
            metrics=self.metrics,
            log=self.log,
            clock=clock,
            arm=self._arm,
        )
        self.footer_memory = FooterMemory(store, self.log, self._spawn, self._footer_window)
        self.mt = MtPolicy(
            accounts=self.accounts,
            default_country=country,
            index=index,
            audit=self.audit,
            held=self.held,
            receipts=self.receipts,
            references=references,
            metrics=self.metrics,
            log=self.log,
            clock=clock,
            spawn=self._spawn,
            footers=self.footer_memory,
        )
        self.receipt_routes = ReceiptRoutes(store, self.log, self._spawn, config.mo.receipt_ttl)
        self.mo.receipt_routes = self.receipt_routes
        self._route_mo(config)
        self.on_submit = self.mt.on_submit
        if self.receipt_routes.tracked:  # else submit responses keep relaying undecoded
            self.on_submit = self.receipt_routes.tracking(self.mt.on_submit)
        self.on_deliver = self.mo.on_deliver

    def _route_mo(self, config: Config) -> None:
        """MOs and receipts to the account they belong to (issue 14)."""
        self.mo.router = MoRouter(config.mo.routes)
        self.mo.default_account = config.mo.default_account
        mo = config.mo
        on = mo.route_receipts and mo.receipt_ttl > 0
        self.receipt_routes.tracked = shared_upstream_accounts(config.accounts) if on else frozenset()
        self.receipt_routes.accounts = config.accounts

    def reload(self, config: Config) -> None:
        """Adopt new accounts, keywords, texts, footers and limits (bound sessions see them at once).

        What a setting feeds is rebuilt when it changed: account policies, and the MO reassembler's
        timeout and capacity (the parts it holds are kept).
        """
        self.config = config
        self.accounts = build_accounts(config, self.accounts)
        country = config.numbers.default_country
        for step in (self.mo, self.mt):
            step.accounts = self.accounts
            step.default_country = country
        self._route_mo(config)
        optout = config.optout
        self.reassembler.reconfigure(timeout=optout.reassembly_timeout, max_messages=optout.max_held_messages)
        self.mo.report_evicted()  # a lower capacity may have dropped some
        deadline = self.reassembler.next_deadline()
        if deadline is not None:
            self._arm(deadline)

    # --- background work --------------------------------------------------------------------------

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Background duties: write queued events and counters, release overdue held parts, give up
        on long MOs whose parts stopped coming; each when it is due."""
        async with anyio.create_task_group() as tg:
            self._tg = tg
            await tg.start(self.footer_memory.follow)  # footers sent before this start, and elsewhere
            task_status.started()
            try:
                while True:
                    deadline = self.next_deadline()
                    self._armed = math.inf if deadline is None else deadline
                    self._wake = wake = anyio.Event()
                    with anyio.move_on_after(self._armed - self.clock()):
                        await wake.wait()
                    now = self.clock()
                    if now >= self._armed:  # else woken to sleep until an earlier deadline
                        await self.handle_timer(now)
            finally:
                self._wake = None
                with anyio.CancelScope(shield=True):
                    await self.flush()

    def next_deadline(self) -> float | None:
        """When :meth:`handle_timer` next has something to do (on ``clock``), or None."""
        deadlines = [
            d
            for d in (self.audit.next_deadline(), self.held.next_deadline(), self.reassembler.next_deadline())
            if d is not None
        ]
        return min(deadlines, default=None)

    async def handle_timer(self, now: float) -> None:
        """Do what is due at ``now``: write the batch, send held messages as they are, expire MO parts."""
        flush_at = self.audit.next_deadline()
        if flush_at is not None and flush_at <= now:
            await self.audit.flush()
        self.held.expire(now)
        self.reassembler.expire(now)

    async def flush(self) -> None:
        """Write queued stateless events and sent counters to the store now (kept on failure, bounded)."""
        await self.audit.flush()
        await self.receipt_routes.flush()
        await self.footer_memory.flush()

    def _footer_window(self) -> float:
        """Seconds of the longest ``footer_days`` of the accounts that use it (0: none does)."""
        accounts = self.config.accounts.values()
        days = [a.footer_days for a in accounts if a.footer_mode == "first_in_days"]
        return max(days, default=0) * 86400.0

    def _arm(self, deadline: float) -> None:
        """A step has something due at ``deadline``: wake the timer if it sleeps until later."""
        if deadline < self._armed and self._wake is not None:
            self._armed = deadline
            self._wake.set()

    def _spawn(self, func: Any, *args: Any) -> None:
        if self._tg is None:
            raise RuntimeError("OptoutPolicy.run() is not running")
        self._tg.start_soon(func, *args)
