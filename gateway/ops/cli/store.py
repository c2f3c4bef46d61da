"""The configured store, opened for one command, and the operator its changes are attributed to."""

from __future__ import annotations

import getpass
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio

from gateway.config import Config
from gateway.store.sqlite import SQLiteStore

_T = TypeVar("_T")


def with_store(config: Config, work: Callable[[SQLiteStore], Awaitable[_T]]) -> _T:
    """Run ``work`` on the store of ``config`` (opened and closed around it) in a new event loop."""

    async def main() -> _T:
        async with SQLiteStore(config.storage.path) as store:
            return await work(store)

    return anyio.run(main)


def operator_name() -> str:
    """The login name recorded as the ``operator`` of a change made from the command line."""
    try:
        return getpass.getuser()
    except Exception:
        return "cli"
