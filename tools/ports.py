"""Local TCP ports for the tools and the tests: a free one to listen on, and waiting until a process
started elsewhere accepts connections on one."""

from __future__ import annotations

import socket

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
