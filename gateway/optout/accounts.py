"""Each account's settings as the engine reads them on every message, worked out once per reload."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from gateway.config import AccountConfig, Config
from gateway.numbers import address_normalizer
from gateway.policy.keywords import Keywords

#: The footer placeholder replaced by a per-recipient web opt-out link.
OPTOUT_URL = "{optout_url}"


@dataclass(slots=True)
class AccountPolicy:
    """An account's settings as the engine uses them: keywords compiled once, and what every
    submit_sm reads worked out once (a reload builds a new AccountPolicy)."""

    config: AccountConfig
    keywords: Keywords
    default_country: str
    #: The form of the message ids Stopgate issues for this account (its upstream's ``message_ids``).
    message_ids: str = "decimal"
    scope: str = field(init=False)
    marketing: bool = field(init=False)
    checks_suppression: bool = field(init=False)
    #: Every message gets the footer, in short_message: the octet path may answer.
    footer_on_octets: bool = field(init=False)
    #: The footer carries ``{optout_url}``: expanded per message into a link of its own (issue 16).
    footer_url: bool = field(init=False)
    #: E.164 for an address (address, TON) in this account's country, as normalize_number gives:
    #: the one way the engine turns a destination or an MO sender into the number it looks up.
    normalize: Callable[[str, int], str | None] = field(init=False)

    def __post_init__(self) -> None:
        config = self.config
        self.scope = config.scope
        self.marketing = config.traffic == "marketing"
        self.checks_suppression = self.marketing or config.block_transactional
        self.footer_on_octets = config.footer_mode == "every" and config.long_messages != "payload"
        self.normalize = address_normalizer(self.default_country)
        self.footer_url = OPTOUT_URL in config.footer


def build_account(
    account: AccountConfig, default_country: str, message_ids: str = "decimal"
) -> AccountPolicy:
    kw = account.keywords
    keywords = Keywords.from_lists(
        opt_out=kw.opt_out,
        opt_in=kw.opt_in,
        help=kw.help,
        opt_in_if_opted_out=kw.opt_in_if_opted_out,
        languages=account.keyword_languages,
    )
    return AccountPolicy(account, keywords, default_country, message_ids)


def build_accounts(
    config: Config, previous: Mapping[str, AccountPolicy] | None = None
) -> dict[str, AccountPolicy]:
    """Every account's policy; one whose settings (and country) a reload left alone is kept as it was."""
    country = config.numbers.default_country
    old = previous or {}
    out: dict[str, AccountPolicy] = {}
    for system_id, account in config.accounts.items():
        kept = old.get(system_id)
        upstream = config.upstreams.get(account.upstream)
        ids = upstream.message_ids if upstream is not None else "decimal"
        if kept is not None and kept.config == account and kept.default_country == country and (
            kept.message_ids == ids
        ):
            out[system_id] = kept
        else:
            out[system_id] = build_account(account, country, ids)
    return out


def account_for(
    accounts: Mapping[str, AccountPolicy], account: AccountConfig, default_country: str
) -> AccountPolicy:
    """The policy for a session's account; one a reload removed while the session stayed bound
    keeps serving with the settings it bound with."""
    policy = accounts.get(account.system_id)
    if policy is None:
        policy = build_account(account, default_country)
    return policy
