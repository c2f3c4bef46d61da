"""``[[account]]``: the ESME logins Stopgate accepts, with their opt-out policy and keywords.

An account may repeat any ``[optout]`` key to override it; :func:`parse_account` merges those
overrides into the ``[optout]`` defaults, so that ``AccountConfig.optout`` is what applies.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

from gateway.config.errors import ConfigError
from gateway.config.mo_routing import parse_account_numbers
from gateway.config.passwords import HASH_FORMAT, parse_password_hash
from gateway.config.reader import Table, keys_of
from gateway.config.schema import (
    MAX_PASSWORD,
    MAX_SYSTEM_ID,
    AccountConfig,
    FooterMode,
    KeywordsConfig,
    LongMessages,
    OptoutConfig,
    Traffic,
    UpstreamConfig,
)
from gateway.config.sections import OPTOUT_KEYS, parse_optout
from gateway.config.texts import LANGUAGES, Replies, default_replies
from gateway.policy.keywords import Keywords

KEYWORD_KEYS = keys_of(KeywordsConfig)
REPLY_KEYS = keys_of(Replies)
#: An account's own keys, its ``[optout]`` overrides and its ``[account.keywords]`` table.
ACCOUNT_KEYS = (keys_of(AccountConfig) - {"optout"}) | OPTOUT_KEYS


def parse_account(
    t: Table, optout_defaults: OptoutConfig, upstreams: Mapping[str, UpstreamConfig]
) -> AccountConfig:
    system_id = t.smpp_str("system_id", MAX_SYSTEM_ID, required=True)

    has_plain, has_hash = t.has("password"), t.has("password_hash")
    if has_plain and has_hash:
        t.fail("password", "'password' and 'password_hash' are both set; use only one")
    if not has_plain and not has_hash:
        t.fail("password", "one of 'password' or 'password_hash' is required")
    password: str | None = None
    password_hash: str | None = None
    if has_plain:
        password = t.smpp_str("password", MAX_PASSWORD, required=True)
    else:
        password_hash = t.required_str("password_hash")
        try:
            parse_password_hash(password_hash)
        except ValueError as exc:
            t.fail("password_hash", f"malformed hash: {exc} (expected {HASH_FORMAT!r})")

    upstream = t.required_str("upstream")
    if upstream not in upstreams:
        known = ", ".join(upstreams)
        t.fail("upstream", f"unknown upstream {upstream!r} (known: {known})")

    d = AccountConfig(
        system_id=system_id, password=None, password_hash=None, upstream=upstream, scope=system_id
    )
    campaign_tlv: int | None = None
    if t.has("campaign_tlv"):
        campaign_tlv = t.integer("campaign_tlv", 0, 1, 0xFFFF, hex_=True)
    traffic = cast(Traffic, t.choice("traffic", d.traffic, ("marketing", "transactional")))
    block_transactional = t.boolean("block_transactional", d.block_transactional)
    languages = _parse_languages(t)
    # A STOP stops this account's messages only when its traffic is checked against the list.
    stops_all = traffic == "marketing" or block_transactional
    first = default_replies(languages[0], stops_all=stops_all)
    confirmation = t.string("confirmation", first.confirmation)
    resubscribe_confirmation = t.string("resubscribe_confirmation", first.resubscribe_confirmation)
    help_text = t.string("help", first.help)
    replies = _parse_replies(
        t.table("replies", frozenset(LANGUAGES)),
        languages,
        Replies(confirmation, resubscribe_confirmation, help_text),
        stops_all,
    )

    return AccountConfig(
        system_id=system_id,
        password=password,
        password_hash=password_hash,
        upstream=upstream,
        scope=t.string("scope", system_id, nonempty=True),
        traffic=traffic,
        block_transactional=block_transactional,
        require_consent=t.boolean("require_consent", d.require_consent),
        web_confirmation=t.string("web_confirmation", d.web_confirmation),
        web_confirmation_from=t.smpp_str("web_confirmation_from", 20, allow_empty=True),
        footer=t.string("footer", d.footer),
        footer_mode=cast(FooterMode, t.choice("footer_mode", d.footer_mode, ("every", "first_in_days"))),
        footer_days=t.integer("footer_days", d.footer_days, 1, 36_500),
        long_messages=cast(LongMessages, t.choice("long_messages", d.long_messages, ("split", "payload"))),
        confirmation=confirmation,
        resubscribe_confirmation=resubscribe_confirmation,
        help=help_text,
        max_sessions=t.integer("max_sessions", d.max_sessions, 1, 100_000),
        campaign_tlv=campaign_tlv,
        keyword_languages=languages,
        replies=replies,
        optout=parse_optout(t, optout_defaults),
        keywords=_parse_keywords(t.table("keywords", KEYWORD_KEYS), languages),
        numbers=parse_account_numbers(t, system_id),
    )


def _parse_languages(t: Table) -> tuple[str, ...]:
    languages = t.str_list("keyword_languages", ("en",))
    if not languages:
        t.fail("keyword_languages", "must name at least one language")
    for language in languages:
        if language not in LANGUAGES:
            t.fail("keyword_languages", f"unknown language {language!r} (known: {', '.join(LANGUAGES)})")
    return tuple(dict.fromkeys(languages))


def _parse_replies(
    t: Table, languages: tuple[str, ...], own: Replies, stops_all: bool
) -> tuple[tuple[str, Replies], ...]:
    """The replies per language: the account's own texts for its first language, then for each other
    ``[account.replies.<lang>]`` over the built-in defaults."""
    out = [(languages[0], own)]
    for language in languages[1:]:
        table = t.table(language, REPLY_KEYS)
        default = default_replies(language, stops_all=stops_all)
        out.append(
            (
                language,
                Replies(
                    table.string("confirmation", default.confirmation),
                    table.string("resubscribe_confirmation", default.resubscribe_confirmation),
                    table.string("help", default.help),
                ),
            )
        )
    return tuple(out)


def _parse_keywords(t: Table, languages: tuple[str, ...]) -> KeywordsConfig:
    values: dict[str, tuple[str, ...] | None] = {}
    for key in ("opt_out", "opt_in", "help", "opt_in_if_opted_out"):
        words = t.str_list(key, None)
        if key == "opt_out" and words is not None and not words:
            t.fail(key, "must not be empty: recipients must always be able to opt out")
        values[key] = words
    kw = KeywordsConfig(**values)
    try:  # the policy layer's own validation (letters/digits present, no keyword in two lists)
        Keywords.from_lists(
            opt_out=kw.opt_out,
            opt_in=kw.opt_in,
            help=kw.help,
            opt_in_if_opted_out=kw.opt_in_if_opted_out,
            languages=languages,
        )
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{t.path}: {exc}", key=t.path) from None
    return kw
