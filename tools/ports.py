"""Local TCP ports for the tools and the tests: a free one to listen on, and waiting until a process
started elsewhere accepts connections on one."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import anyio


def free_port() -> int:
    """A port on 127.0.0.1 that nothing listens on right now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def wait_port(port: int, timeout: float = 15.0) -> None:
    """Return once something accepts on 127.0.0.1:``port``; TimeoutError after ``timeout`` seconds."""
    with anyio.fail_after(timeout):
        while True:
            try:
                stream = await anyio.connect_tcp("127.0.0.1", port)
            except OSError:
                await anyio.sleep(0.05)
                continue
            await stream.aclose()
            return


def wait_port_blocking(port: int, timeout: float = 15.0, alive: Callable[[], bool] | None = None) -> None:
    """:func:`wait_port` for code without an event loop (the benchmark's orchestrator, the simulator's
    self-test); ``alive()`` False (the process exited) aborts early."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or (alive is not None and not alive()):
                raise TimeoutError(f"nothing listening on port {port}") from None
            time.sleep(0.02)
