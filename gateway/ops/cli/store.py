"""The configured store, opened for one command, and the operator its changes are attributed to."""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from gateway.config import Config
from gateway.store.backends import make_store
from gateway.store.base import Store

_T = TypeVar("_T")


def with_store(config: Config, work: Callable[[Store], Awaitable[_T]]) -> _T:
    """Run ``work`` on the store of ``config`` (opened and closed around it) in a new event loop."""

    async def main() -> _T:
        async with make_store(config.storage.path, config.storage.url) as store:
            return await work(store)

    return anyio.run(main)


def operator_name() -> str:
    """The login name recorded as the ``operator`` of a change made from the command line."""
    try:
        return getpass.getuser()
    except Exception:
        return "cli"
