"""aiosmpplib 0.7.4 (PyPI, the dev extra) as an asyncio ESME through Stopgate to the simulated SMSC
(issue 13, item 5): in a window of 60 submits with one opted-out number, every submit gets its answer on
the one connection; the refused one carries the default block status, a standard permanent error
aiosmpplib can parse (the vendor code 0x400 made it drop the connection and answer none)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import aiosmpplib  # the dev extra installs it
import anyio
import pytest

from gateway.smpp.constants import CommandStatus
from tests.stack import running_stack

pytestmark = pytest.mark.anyio

OPTED_OUT = "447700900401"
SHORT_CODE = "88088"
WINDOW = 60


class Recorder(aiosmpplib.AbstractHook):  # type: ignore[misc]
    """What the client saw: each submit_sm_resp and every bind answer (a re-bind would be a second)."""

    def __init__(self) -> None:
        self.answers: dict[str, Any] = {}
        self.binds = 0
        self.unparsed = 0
        self.delivered: list[Any] = []

    async def sending(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        pass

    async def received(self, smpp_message: Any, pdu: bytes, client_id: str) -> None:
        if smpp_message is None:
            self.unparsed += 1
        elif isinstance(smpp_message, aiosmpplib.SubmitSmResp):
            self.answers[smpp_message.log_id] = smpp_message
        elif isinstance(smpp_message, aiosmpplib.BindTransceiverResp):
            self.binds += 1
        elif isinstance(smpp_message, aiosmpplib.DeliverSm):
            self.delivered.append(smpp_message)

    async def send_error(self, smpp_message: Any, error: Exception, client_id: str) -> None:
        raise AssertionError(f"send error {error!r}")


async def test_aiosmpplib_gets_every_answer_in_a_window_with_an_opted_out_number(tmp_path: Path) -> None:
    from aiosmpplib.broker import SimpleBroker
    from aiosmpplib.state import PhoneNumber

    async with running_stack(tmp_path, {"session": {"window": WINDOW}}) as stack:
        hook = Recorder()
        broker = SimpleBroker()
        esme = aiosmpplib.ESME(
            smsc_host="127.0.0.1",
            smsc_port=stack.port,
            system_id="acme",
            password="acmepw",
            hook=hook,
            broker=broker,
            log_level=logging.WARNING,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(esme.start)
            with anyio.fail_after(10):
                while hook.binds == 0:
                    await anyio.sleep(0.02)
            # The handset opts out first.
            resp = await stack.smsc.deliver(source_addr=OPTED_OUT, destination_addr=SHORT_CODE, text="STOP")
            assert resp.command_status == CommandStatus.ESME_ROK
            before = stack.smsc.submit_count
            for i in range(WINDOW):
                number = OPTED_OUT if i == 30 else f"4477009{i:05d}"
                await broker.enqueue(
                    aiosmpplib.SubmitSm(
                        log_id=f"m{i}",
                        short_message=f"Offer {i}",
                        source=PhoneNumber(SHORT_CODE),
                        destination=PhoneNumber(number),
                        registered_delivery=0,
                    )
                )
            with anyio.fail_after(20):
                while len(hook.answers) < WINDOW:
                    await anyio.sleep(0.05)
            await esme.stop()
            tg.cancel_scope.cancel()

        statuses = {log_id: int(answer.command_status) for log_id, answer in hook.answers.items()}
        assert statuses.pop("m30") == CommandStatus.ESME_RSUBMITFAIL
        assert set(statuses.values()) == {CommandStatus.ESME_ROK} and len(statuses) == WINDOW - 1
        assert (hook.binds, hook.unparsed) == (1, 0)  # one connection, nothing it could not parse
        assert stack.smsc.submit_count - before == WINDOW - 1  # the opted-out one never left
