"""A TCP relay that can be cut: one process's road to PostgreSQL, severed while others keep theirs.

    async with TcpCutoff("127.0.0.1", 5432) as relay:      # relay.port: point storage.url at it
        relay.cut()       # open connections reset, new ones closed at once
        relay.mend()      # connections pass again

Cutting a whole database (ALTER DATABASE ... ALLOW_CONNECTIONS false) cuts every process; a fleet
test needs one process blind while another records opt-outs.
"""

from __future__ import annotations

from types import TracebackType

import anyio
import anyio.abc
from anyio.abc import SocketStream


class TcpCutoff:
    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.target_port = port
        self.port = 0
        self.is_cut = False
        self._scopes: set[anyio.CancelScope] = set()
        self._tg: anyio.abc.TaskGroup | None = None

    async def __aenter__(self) -> TcpCutoff:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        self.port = listener.extra(anyio.abc.SocketAttribute.local_port)
        self._tg = anyio.create_task_group()
        await self._tg.__aenter__()
        self._tg.start_soon(listener.serve, self._handle)
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        assert self._tg is not None
        self._tg.cancel_scope.cancel()
        await self._tg.__aexit__(et, e, tb)

    def cut(self) -> None:
        self.is_cut = True
        for scope in list(self._scopes):
            scope.cancel()

    def mend(self) -> None:
        self.is_cut = False

    async def _handle(self, client: SocketStream) -> None:
        async with client:
            if self.is_cut:
                return
            try:
                server = await anyio.connect_tcp(self.host, self.target_port)
            except OSError:
                return
            async with server, anyio.create_task_group() as tg:
                self._scopes.add(tg.cancel_scope)
                tg.start_soon(_pump, client, server, tg.cancel_scope)
                tg.start_soon(_pump, server, client, tg.cancel_scope)
            self._scopes.discard(tg.cancel_scope)


async def _pump(source: SocketStream, sink: SocketStream, scope: anyio.CancelScope) -> None:
    try:
        async for chunk in source:
            await sink.send(chunk)
    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
        pass
    scope.cancel()
