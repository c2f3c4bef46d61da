"""kill -9 of a real `stopgate run` while a webhook request is in flight loses nothing (issue 16)."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import anyio
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from gateway.ops.webhooks import SIGNATURE_HEADER, verify
from tests.config_file import write_config
from tests.esme import Esme
from tools.ports import free_port
from tools.smsc_sim import SimulatedSmsc
from tools.stopgate_process import stopgate_process

pytestmark = pytest.mark.anyio


class HangingOnce:
    """Holds the first request (so the sender can be killed mid-delivery), answers the rest."""

    def __init__(self) -> None:
        self.ids: list[int] = []
        self.first_arrived = threading.Event()
        self.lock = threading.Lock()

    def __call__(self, request: Request) -> Response:
        body = request.get_data()
        assert verify(request.headers[SIGNATURE_HEADER], body, "k1", now=time.time())
        with self.lock:
            self.ids.append(json.loads(body)["id"])
            first = len(self.ids) == 1
        if first:
            self.first_arrived.set()
            time.sleep(2.0)
        return Response("", status=204)


async def test_kill_9_during_delivery_redelivers_same_event(tmp_path: Path, httpserver: HTTPServer) -> None:
    receiver = HangingOnce()
    httpserver.expect_request("/hook", method="POST").respond_with_handler(receiver)
    smsc = SimulatedSmsc(users={"proxy": "proxypw"})
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        port = free_port()
        webhook = {"url": httpserver.url_for("/hook"), "secret": "k1", "events": ["opt_out"], "timeout": 5.0}
        override = {"listen": {"port": port}, "logging": {"level": "info"}, "webhook": [webhook]}
        config = write_config(tmp_path / "stopgate.toml", smsc.port, override)
        async with stopgate_process(config, port) as process:
            esme = Esme(port)
            await anyio.to_thread.run_sync(esme.bind)  # the upstream session opens with a bind
            for number in ("447700900401", "447700900402"):
                resp = await smsc.deliver(source_addr=number, destination_addr="88088", text="STOP")
                assert resp.command_status == 0
            with anyio.fail_after(10):
                await anyio.to_thread.run_sync(receiver.first_arrived.wait, 10)
            process.kill()  # while the first request waits for its answer
            await process.wait()
            esme.close()
        async with stopgate_process(config, port):
            with anyio.fail_after(20):
                while len(set(receiver.ids)) < 2:
                    await anyio.sleep(0.05)
        await smsc.stop()
        tg.cancel_scope.cancel()
    first_id = receiver.ids[0]
    # The event in flight at the kill came again with the same id, then the next one, in order.
    assert receiver.ids[:2] == [first_id, first_id]
    assert receiver.ids[2] > first_id
    assert receiver.ids == sorted(receiver.ids)
