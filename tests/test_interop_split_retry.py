"""A later part throttled after the SMSC accepted an earlier one (issue 13, item 3): Stopgate finishes
the message itself, retrying the part with back-off on the same bind, and only then answers; if the
part is still refused after the bounded retries, the answer is a permanent error (a client retry would
send the accepted part again: a lone "part 1 of 2" on the handset, then a full copy)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from anyio import to_thread

from gateway.proxy import relay as proxy_relay
from gateway.smpp.constants import CommandStatus
from tests.esme import Esme
from tests.stack import Stack, running_stack

pytestmark = pytest.mark.anyio

S = CommandStatus
NUMBER = "447700900401"
LONG_TEXT = ("Big sale " * 17).strip()  # one segment alone, two with the footer


async def submit_long_then(stack: Stack, esme: Esme, fault: Callable[[], object]) -> Any:
    """Submit LONG_TEXT and arm ``fault`` once part 1 reached the SMSC (its answer held back)."""
    stack.smsc.respond_delay(0.3)
    answers: list[Any] = []

    async def send() -> None:
        answers.append(await to_thread.run_sync(lambda: esme.submit(NUMBER, LONG_TEXT)))

    async with anyio.create_task_group() as tg:
        tg.start_soon(send)
        await stack.smsc.wait_for_submits(1)
        fault()
    return answers[0]


@pytest.mark.parametrize("status", [S.ESME_RTHROTTLED, S.ESME_RMSGQFUL])
async def test_a_throttled_later_part_is_retried_and_finished(tmp_path: Path, status: int) -> None:
    async with running_stack(tmp_path) as stack:
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        resp = await submit_long_then(stack, esme, lambda: stack.smsc.fail_next(2, status))
        assert resp.status == S.ESME_ROK
        accepted = [r for r in stack.smsc.received if r.status == S.ESME_ROK]
        assert len(accepted) == 2  # part 1 once, part 2 after two refusals
        assert resp.message_id.decode() == accepted[0].message_id
        assert stack.smsc.submit_count == 4
        esme.close()


async def test_a_part_refused_past_the_bound_gets_a_permanent_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(proxy_relay, "PART_RETRIES", 2)
    monkeypatch.setattr(proxy_relay, "PART_RETRY_FIRST", 0.05)
    async with running_stack(tmp_path) as stack:
        esme = Esme(stack.port, "acme", "acmepw")
        await to_thread.run_sync(esme.bind, "trx")
        resp = await submit_long_then(stack, esme, lambda: stack.smsc.throttle_next(10))
        assert resp.status == S.ESME_RSUBMITFAIL  # not 0x58: the client must not resend the message
        assert stack.smsc.submit_count == 1 + 1 + 2  # part 1, part 2 and its two retries
        esme.close()
