"""Warnings about a valid config: what ``stopgate check-config`` points out without refusing it.

A marketing account's footer is how a subscriber learns to opt out: an empty one, or one naming none of
the account's opt-out keywords, is allowed but worth a look. A footer character outside GSM 03.38
turns every message it is added to into UCS2, which roughly doubles the segments sent. A confirmation
promising "no further messages" on an account whose traffic is not blocked for opted-out numbers is
untrue: that account's next message goes through.
"""

from __future__ import annotations

import re

from gateway.config.schema import AccountConfig, Config
from gateway.config.texts import promises_no_further_messages
from gateway.policy.keywords import DEFAULT_KEYWORDS
from gateway.policy.routes import check_rules
from gateway.text.gsm import is_gsm


def _names_an_opt_out_keyword(footer: str, account: AccountConfig) -> bool:
    keywords = account.keywords.opt_out or DEFAULT_KEYWORDS.opt_out
    words = footer.upper()
    return any(re.search(rf"(?<![A-Z0-9]){re.escape(k.upper())}(?![A-Z0-9])", words) for k in keywords)


def account_warnings(account: AccountConfig) -> list[str]:
    name = f"account {account.system_id!r}"
    warnings = []
    footer = account.footer
    if account.traffic == "marketing":
        if not footer.strip():
            warnings.append(
                f"{name}: footer is empty on a marketing account: subscribers are not told how to opt out"
            )
        elif not _names_an_opt_out_keyword(footer, account):
            warnings.append(
                f"{name}: footer {footer!r} names no opt-out keyword (e.g. STOP) on a marketing account"
            )
    if account.traffic != "marketing" and not account.block_transactional:
        for language, replies in account.replies or (("", account.replies_in(None)),):
            if promises_no_further_messages(replies.confirmation):
                where = f" ({language})" if language else ""
                warnings.append(
                    f"{name}: confirmation{where} {replies.confirmation!r} promises no further messages, "
                    "but this account's traffic is not blocked for opted-out numbers (transactional "
                    "without block_transactional): say what actually stops, or set block_transactional"
                )
    outside = sorted({ch for ch in footer if not is_gsm(ch)})
    if outside:
        shown = ", ".join(f"{ch!r} (U+{ord(ch):04X})" for ch in outside[:5])
        warnings.append(
            f"{name}: footer has characters outside GSM 03.38 ({shown}): every message it is added to is "
            "sent as UCS2, roughly doubling its segments"
        )
    return warnings


def config_warnings(config: Config) -> list[str]:
    """Every warning about ``config``, account by account."""
    warnings = [w for account in config.accounts.values() for w in account_warnings(account)]
    return warnings + check_rules(config.routes, config.upstreams)[1]
