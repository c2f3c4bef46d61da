"""Several simulated SMSCs for one test: one per upstream name, each on its own free port, with a handle
to crash it, bring it back on the same port, and arm its faults.

Use::

    from tests.sims import running_sims, stack_with_sims

    async with running_sims("uk-smsc", "agg", control=True) as sims:
        override = {"upstream": sims.upstreams(), "route": [...]}
        async with stack_with_sims(tmp_path, override, sims) as stack:
            esme = Esme(stack.port)
            ...
            await sims["uk-smsc"].kill()          # TCP reset on every bind, listener closed
            sims["agg"].smsc.fail_next(3, 0x14)   # any SmscCore fault: stall, respond_delay, ...
            await sims["uk-smsc"].restart()       # serving again on the same port
            assert sims["agg"].smsc.submits_to("447700900123")

- :func:`running_sims` starts the simulators (``users`` defaults to Stopgate's test credentials,
  ``proxy`` / ``proxypw``; other keywords go to every :class:`SimulatedSmsc`) and stops them after.
- :class:`Sim` is one simulator: ``name``, ``port``, ``control_port`` (with ``control=True``; for
  ``tools.smsc_ctl`` and subprocess tests), ``smsc`` (the :class:`SimulatedSmsc`: ``received``,
  ``bound_sessions``, ``wait_for_binds``, every fault), :meth:`Sim.kill`, :meth:`Sim.restart`,
  :meth:`Sim.upstream` (its ``[[upstream]]`` table).
- :meth:`Sims.upstreams` gives the ``[[upstream]]`` tables of all of them, in order, for a config
  override; :func:`stack_with_sims` runs a Stopgate :class:`~tests.stack.Stack` over them (its
  ``smsc`` is the first simulator).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from gateway.app import App
from tests.stack import Stack, make_config
from tools.smsc_sim import SimulatedSmsc

#: The credentials Stopgate's test configs bind to the SMSC with (tests/stack.py's BASE).
USERS = {"proxy": "proxypw"}


class Sim:
    """One simulated SMSC serving in :func:`running_sims`'s task group."""

    def __init__(self, name: str, smsc: SimulatedSmsc, tg: anyio.abc.TaskGroup) -> None:
        self.name = name
        self.smsc = smsc
        self._tg = tg

    @property
    def port(self) -> int:
        return self.smsc.port

    @property
    def control_port(self) -> int | None:
        return self.smsc.control_port

    @property
    def up(self) -> bool:
        return self.smsc.serving

    async def kill(self) -> None:
        """Crash: every connection reset (no unbind), the listener closed, so reconnects are refused."""
        if self.smsc.serving:
            await self.smsc.disconnect_all()
            await self.smsc.stop()

    async def restart(self) -> None:
        """Serve again on the same port (and control port); a no-op while serving."""
        if not self.smsc.serving:
            await self._tg.start(self.smsc.serve)

    def upstream(self, **extra: Any) -> dict[str, Any]:
        """This simulator as an ``[[upstream]]`` table named :attr:`name` (``extra`` keys added)."""
        system_id, password = next(iter((self.smsc.users or USERS).items()))
        return {
            "name": self.name,
            "host": self.smsc.host,
            "port": self.port,
            "system_id": system_id,
            "password": password,
            **extra,
        }


class Sims(Mapping[str, Sim]):
    """The simulators of :func:`running_sims`, by name, in the order given."""

    def __init__(self, sims: list[Sim]) -> None:
        self._by_name = {sim.name: sim for sim in sims}

    def __getitem__(self, name: str) -> Sim:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_name)

    def __len__(self) -> int:
        return len(self._by_name)

    def upstreams(self, **per_name: dict[str, Any]) -> list[dict[str, Any]]:
        """Every simulator's ``[[upstream]]`` table, in order; ``per_name`` adds keys to one of them
        (``sims.upstreams(agg={"window": 8})``)."""
        unknown = set(per_name) - set(self._by_name)
        if unknown:
            raise KeyError(f"no simulator named {sorted(unknown)}")
        return [sim.upstream(**per_name.get(name, {})) for name, sim in self._by_name.items()]


@asynccontextmanager
async def running_sims(
    *names: str, users: dict[str, str] | None = None, control: bool = False, **smsc_kwargs: Any
) -> AsyncIterator[Sims]:
    """One :class:`SimulatedSmsc` per name, each on a free port of 127.0.0.1, serving for the body."""
    if not names or len(set(names)) != len(names):
        raise ValueError(f"give distinct simulator names, got {names!r}")
    async with anyio.create_task_group() as tg:
        sims = []
        for name in names:
            smsc = SimulatedSmsc(
                users=dict(users or USERS), control_port=0 if control else None, **smsc_kwargs
            )
            await tg.start(smsc.serve)
            sims.append(Sim(name, smsc, tg))
        try:
            yield Sims(sims)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                for sim in sims:
                    await sim.smsc.stop()
            tg.cancel_scope.cancel()


@asynccontextmanager
async def stack_with_sims(directory: Path, override: dict[str, Any], sims: Sims) -> AsyncIterator[Stack]:
    """A Stopgate App over ``sims`` (``override`` should name them, e.g. ``"upstream": sims.upstreams()``)."""
    first = sims[next(iter(sims))]
    async with anyio.create_task_group() as tg:
        app = App(make_config(directory, first.port, override))
        await tg.start(app.run)
        try:
            yield Stack(first.smsc, app, directory)
        finally:
            with anyio.CancelScope(shield=True), anyio.move_on_after(10):
                await app.stop()
            tg.cancel_scope.cancel()
