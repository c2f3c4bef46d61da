"""Truthful replies and keywords per language (issue 18 items 2 and 10), end to end: the simulated
SMSC delivers the MO, Stopgate commits it and replies through the SMSC."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from anyio import to_thread

from gateway.config import parse_config
from gateway.config.advice import config_warnings
from gateway.smpp.constants import CommandStatus
from tests.esme import Esme
from tests.stack import BASE, Stack, merge, running_stack

pytestmark = pytest.mark.anyio

NUMBER = "447700900401"
E164 = "+" + NUMBER
SHORT_CODE = "88088"
MARKETING_ONLY = (
    "You will no longer receive marketing messages from us. "
    "Service messages about your account will continue."
)


def accounts(*changes: dict[str, Any]) -> dict[str, Any]:
    out = [dict(a) for a in BASE["account"]]
    for account, change in zip(out, changes, strict=False):
        account.update(change)
    return {"account": out}


async def bound(stack: Stack, system_id: str = "acme", password: str = "acmepw") -> Esme:
    esme = Esme(stack.port, system_id, password)
    await to_thread.run_sync(esme.bind, "trx")
    return esme


async def mo(stack: Stack, text: str) -> int:
    coding = 0 if text.isascii() else 8  # UCS2 for "Arrêt"
    resp = await stack.smsc.deliver(
        source_addr=NUMBER, destination_addr=SHORT_CODE, text=text, data_coding=coding
    )
    return int(resp.command_status)


def replies(stack: Stack) -> list[str]:
    return [r.text for r in stack.smsc.received if r.source_addr == SHORT_CODE]


async def test_a_stop_to_a_transactional_account_is_not_told_no_further_messages(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = Esme(stack.port, "acmeotp", "otppw")
        await to_thread.run_sync(esme.bind, "trx")
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK
        await stack.smsc.wait_until(lambda: len(replies(stack)) == 1)
        assert replies(stack) == [MARKETING_ONLY]
        # ... and true: the account's next message goes through.
        resp = await to_thread.run_sync(lambda: esme.submit(NUMBER, "Your code is 123456"))
        assert resp.status == 0
        esme.close()


def config_of(tmp_path: Path, *changes: dict[str, Any]) -> Any:
    data = merge(BASE, accounts(*changes))
    data["upstream"][0]["port"] = 2775
    return parse_config(data, tmp_path)


def test_defaults_are_true_for_what_each_account_does(tmp_path: Path) -> None:
    config = config_of(tmp_path, {}, {}, {})
    assert config.accounts["acmeotp"].confirmation == MARKETING_ONLY
    assert "no further messages" in config.accounts["other"].confirmation  # marketing
    blocked = config_of(tmp_path, {}, {"block_transactional": True}).accounts["acmeotp"]
    assert "no further messages" in blocked.confirmation
    assert config_warnings(config) == []


def test_check_config_warns_about_an_untrue_promise(tmp_path: Path) -> None:
    promise = "You have been unsubscribed and will receive no further messages."
    config = config_of(tmp_path, {}, {"confirmation": promise})
    [warning] = config_warnings(config)
    assert "account 'acmeotp'" in warning and "promises no further messages" in warning
    french = config_of(
        tmp_path,
        {},
        {
            "keyword_languages": ["en", "fr"],
            "replies": {"fr": {"confirmation": "Vous ne recevrez plus de messages."}},
        },
    )
    [warning] = config_warnings(french)
    assert "(fr)" in warning
    assert (
        config_warnings(config_of(tmp_path, {}, {"confirmation": promise, "block_transactional": True})) == []
    )


async def test_keywords_per_language_with_replies_in_that_language(tmp_path: Path) -> None:
    override = accounts({"keyword_languages": ["en", "fr"]})
    async with running_stack(tmp_path, override) as stack:
        esme = await bound(stack)
        assert await mo(stack, "BAJA") == CommandStatus.ESME_ROK  # Spanish is not selected
        assert await stack.app.store.get_suppression("acme", E164) is None
        assert await mo(stack, "Arrêt svp") == CommandStatus.ESME_ROK
        suppression = await stack.app.store.get_suppression("acme", E164)
        assert suppression is not None and suppression.keyword == "ARRÊT"
        french = "Vous êtes désabonné et ne recevrez plus de messages. Répondez DEMARRER pour vous réabonner."
        # In UCS2 it takes two parts: the replies are compared joined.
        await stack.smsc.wait_until(lambda: "".join(replies(stack)) == french)
        assert await mo(stack, "AIDE") == CommandStatus.ESME_ROK
        help_fr = "Répondez ARRET pour vous désabonner, DEMARRER pour vous réabonner."
        await stack.smsc.wait_until(lambda: "".join(replies(stack)) == french + help_fr)
        assert await mo(stack, "START") == CommandStatus.ESME_ROK  # English: the account's own text
        resubscribed = BASE["account"][0]["resubscribe_confirmation"]
        await stack.smsc.wait_until(lambda: "".join(replies(stack)) == french + help_fr + resubscribed)
        esme.close()


async def test_spanish_and_german_sets(tmp_path: Path) -> None:
    override = accounts({"keyword_languages": ["es", "de"]})
    async with running_stack(tmp_path, override) as stack:
        esme = await bound(stack)
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK  # English not selected
        assert await stack.app.store.get_suppression("acme", E164) is None
        assert await mo(stack, "stopp") == CommandStatus.ESME_ROK
        assert await stack.app.store.get_suppression("acme", E164) is not None
        assert await mo(stack, "ALTA") == CommandStatus.ESME_ROK
        assert await stack.app.store.get_suppression("acme", E164) is None
        assert await mo(stack, "cancelar") == CommandStatus.ESME_ROK
        assert await stack.app.store.get_suppression("acme", E164) is not None
        esme.close()


async def test_stopall_opts_the_number_out_of_every_scope(tmp_path: Path) -> None:
    async with running_stack(tmp_path) as stack:
        esme = await bound(stack)
        assert await mo(stack, "STOP") == CommandStatus.ESME_ROK
        assert await stack.app.store.get_suppression("other", E164) is None  # STOP: one scope
        assert await mo(stack, "STOPALL") == CommandStatus.ESME_ROK
        for scope in ("acme", "other"):
            assert await stack.app.store.get_suppression(scope, E164) is not None, scope
        other = Esme(stack.port, "other", "otherpw")
        await to_thread.run_sync(other.bind, "trx")
        resp = await to_thread.run_sync(lambda: other.submit(NUMBER, "Big sale"))
        assert resp.status == CommandStatus.ESME_RSUBMITFAIL
        other.close()
        esme.close()
