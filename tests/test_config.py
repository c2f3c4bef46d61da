"""Configuration loading and validation (gateway.config), check-config's description, operator scopes
and account passwords (gateway.config.passwords)."""

from __future__ import annotations

import copy
import hashlib
import re
from pathlib import Path
from typing import Any

import pytest

from gateway.config import (
    AccountConfig,
    Config,
    ConfigError,
    OptoutConfig,
    ScopeError,
    SessionConfig,
    configured_scopes,
    load_config,
    parse_config,
    passwords,
    resolve_scope,
    scope_filter,
)
from gateway.config.describe import describe
from gateway.config.passwords import hash_password, verify_password

EXAMPLE = Path(__file__).resolve().parent.parent / "config" / "example.toml"

MINIMAL: dict[str, Any] = {
    "upstream": [{"name": "sim", "host": "127.0.0.1", "port": 2776, "system_id": "proxy", "password": "pw"}],
    "account": [
        {"system_id": "acme", "password": "acmepw", "upstream": "sim"},
        {"system_id": "acme-otp", "password": "otppw", "upstream": "sim", "scope": "acme"},
    ],
}

# A cheap hash so the tests stay fast.
FAST_HASH = hash_password("s3cret", iterations=1000, salt=b"0123456789abcdef")


def parse(overrides: dict[str, Any] | None = None, **kw: Any) -> Config:
    data = copy.deepcopy(MINIMAL)
    for key, value in (overrides or {}).items():
        data[key] = value
    return parse_config(data, Path("/etc/stopgate"), environ=kw.get("environ", {}))


def with_account(**fields: Any) -> dict[str, Any]:
    accounts = copy.deepcopy(MINIMAL["account"])
    accounts[1].update(fields)
    return {"account": accounts}


def with_upstream(**fields: Any) -> dict[str, Any]:
    upstream = copy.deepcopy(MINIMAL["upstream"])
    upstream[0].update(fields)
    return {"upstream": upstream}


def error(overrides: dict[str, Any], *, environ: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse(overrides, environ=environ or {})
    return str(info.value)


# --------------------------------------------------------------------------------------------
# The bundled example


def test_example_loads(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STOPGATE_ADMIN_TOKEN", raising=False)
    cfg = load_config(EXAMPLE)
    assert cfg.source_path == EXAMPLE
    assert (cfg.listen.host, cfg.listen.port, cfg.listen.tls_enabled) == ("127.0.0.1", 2775, False)
    assert cfg.storage.path == EXAMPLE.parent / "stopgate.db"
    assert cfg.numbers.default_country == "GB"
    assert cfg.session == SessionConfig()
    assert cfg.optout == OptoutConfig()
    assert cfg.optout.block_status == 0x45  # ESME_RSUBMITFAIL since issue 13 (was 0x400)
    assert (cfg.admin.host, cfg.admin.port, cfg.admin.listen) == ("127.0.0.1", 8025, "127.0.0.1:8025")
    assert cfg.admin.tokens == ("change-me",)

    sim = cfg.upstreams["sim"]
    assert (sim.host, sim.port, sim.system_id, sim.password) == ("127.0.0.1", 2776, "proxy", "proxypw")
    assert sim.interface_version == 0x34
    assert sim.window == cfg.session.window

    assert set(cfg.accounts) == {"acme", "acme-otp"}
    acme, otp = cfg.accounts["acme"], cfg.accounts["acme-otp"]
    assert (acme.traffic, acme.scope, acme.upstream) == ("marketing", "acme", "sim")
    assert acme.footer == "Reply STOP to opt out"
    assert (otp.traffic, otp.scope) == ("transactional", "acme")
    assert acme.verify_password("acmepw") and not acme.verify_password("otppw")
    assert otp.verify_password("otppw")
    assert acme.keywords.opt_out is None


def test_example_documents_every_key() -> None:
    text = EXAMPLE.read_text()
    documented = set(re.findall(r"^#\s*([a-z_]+):", text, flags=re.MULTILINE))
    from dataclasses import fields

    from gateway import config as c

    expected: set[str] = set()
    for cls in (
        c.ListenConfig,
        c.StorageConfig,
        c.NumbersConfig,
        c.LoggingConfig,
        c.SessionConfig,
        c.SecurityConfig,
        c.OptoutConfig,
        c.UpstreamConfig,
        c.KeywordsConfig,
        c.AccountConfig,
        c.MoConfig,
    ):
        expected |= {f.name for f in fields(cls)}
    expected |= {"enabled", "listen", "tokens", "token_env", "open_health", "open_metrics"}
    expected -= {"optout", "keywords", "routes"}  # sections, not keys; routes: [[mo_route]] + numbers
    expected |= {"number", "keyword"}  # [[mo_route]]
    assert expected - documented == set()


def test_defaults_and_minimal_config() -> None:
    cfg = parse()
    assert cfg.listen.port == 2775
    assert cfg.storage.path == Path("/etc/stopgate/stopgate.db")
    assert cfg.logging.format == "auto" and cfg.logging.level == "info"
    assert cfg.security.max_lockout_seconds == 3600.0
    assert cfg.admin.enabled and cfg.admin.tokens == ()
    acme = cfg.accounts["acme"]
    assert acme.scope == "acme"  # defaults to system_id
    assert acme.optout == cfg.optout
    assert acme.campaign_tlv is None
    assert cfg.source_path is None


def test_account_optout_overrides_merge_with_defaults() -> None:
    cfg = parse(
        {"optout": {"hold_timeout": 5, "block_mode": "accept_and_fail"}}
        | with_account(block_status=0x401, forward_keywords=False)
    )
    otp = cfg.accounts["acme-otp"]
    assert otp.optout.block_status == 0x401
    assert otp.optout.forward_keywords is False
    assert otp.optout.hold_timeout == 5.0 and isinstance(otp.optout.hold_timeout, float)
    assert otp.optout.block_mode == "accept_and_fail"  # inherited from [optout]
    assert cfg.accounts["acme"].optout.block_status == 0x45


def test_keywords_and_campaign_tlv() -> None:
    cfg = parse(
        with_account(keywords={"opt_out": ["STOP", "Arrêt"], "opt_in_if_opted_out": []}, campaign_tlv=0x1400)
    )
    otp = cfg.accounts["acme-otp"]
    assert otp.keywords.opt_out == ("STOP", "Arrêt")
    assert otp.keywords.opt_in_if_opted_out == ()
    assert otp.keywords.opt_in is None
    assert otp.campaign_tlv == 0x1400


def test_upstream_window_override() -> None:
    cfg = parse({"session": {"window": 10}} | with_upstream(window=3))
    assert cfg.upstreams["sim"].window == 3
    assert parse({"session": {"window": 10}}).upstreams["sim"].window == 10


def test_admin_listen_ipv6() -> None:
    cfg = parse({"admin": {"listen": "[::1]:9000"}})
    assert (cfg.admin.host, cfg.admin.port, cfg.admin.listen) == ("::1", 9000, "[::1]:9000")


# --------------------------------------------------------------------------------------------
# Errors name the offending key


def test_unknown_key_suggests() -> None:
    msg = error({"listen": {"prot": 2775}})
    assert msg.startswith("listen.prot: unknown key")
    assert "did you mean 'port'" in msg


def test_unknown_top_level_and_account_keys() -> None:
    assert "did you mean 'listen'" in error({"lisen": {}})
    msg = error(with_account(fotter="x"))
    assert msg.startswith("account[1].fotter: unknown key") and "'footer'" in msg
    msg = error(with_account(keywords={"optout": ["STOP"]}))
    assert msg.startswith("account[1].keywords.optout: unknown key")
    assert "did you mean 'opt_out'" in msg


def test_unknown_key_without_close_match_lists_known() -> None:
    msg = error({"storage": {"zzzzzz": 1}})
    assert msg == "storage.zzzzzz: unknown key (known keys: path, url)"


@pytest.mark.parametrize("port", ["abc", -1, 70000, True, 1.5])
def test_bad_port(port: object) -> None:
    msg = error({"listen": {"port": port}})
    assert msg.startswith("listen.port: expected an integer 0-65535, got ")
    if port == "abc":
        assert msg == "listen.port: expected an integer 0-65535, got 'abc'"


def test_port_zero_means_any_free_port() -> None:
    assert parse({"listen": {"port": 0}}).listen.port == 0


def test_missing_upstream_reference() -> None:
    msg = error(with_account(upstream="simx"))
    assert msg == "account[1].upstream: unknown upstream 'simx' (known: sim)"


def test_no_upstreams_or_accounts() -> None:
    assert error({"upstream": []}).startswith("upstream: at least one")
    assert error({"account": []}).startswith("account: at least one")
    assert error({"upstream": {"name": "x"}}).startswith("upstream: expected an array of tables")


def test_required_key_missing() -> None:
    upstream = copy.deepcopy(MINIMAL["upstream"])
    del upstream[0]["host"]
    assert error({"upstream": upstream}) == "upstream[0].host: required key is missing"


def test_duplicates() -> None:
    up = MINIMAL["upstream"][0]
    assert error({"upstream": [up, up]}).startswith("upstream[1].name: duplicate")
    assert error(with_account(system_id="acme")).startswith("account[1].system_id: duplicate")


@pytest.mark.parametrize(("status", "name"), [(0x58, "THROTTLED"), (0x14, "MSGQFUL"), (8, "SYSERR")])
def test_retryable_block_status(status: int, name: str) -> None:
    msg = error({"optout": {"block_status": status}})
    assert msg.startswith("optout.block_status: ")
    assert name in msg and "retryable" in msg
    msg = error(with_account(block_status=status))
    assert msg.startswith("account[1].block_status: ")


def test_block_status_range_and_zero() -> None:
    assert error({"optout": {"block_status": 0}}).startswith("optout.block_status: 0 is ESME_ROK")
    msg = error({"optout": {"block_status": 0x100000000}})
    assert msg.startswith("optout.block_status: expected an integer 0x0-0xffffffff")


def test_password_too_long() -> None:
    msg = error(with_upstream(password="123456789"))
    assert msg.startswith("upstream[0].password: too long (9 characters")
    assert "8" in msg
    assert error(with_account(password="123456789")).startswith("account[1].password: too long")


def test_system_id_too_long() -> None:
    msg = error(with_account(system_id="a" * 16))
    assert msg.startswith("account[1].system_id: too long (16 characters")


@pytest.mark.parametrize("region", ["XX", "GBR", "", 44])
def test_bad_default_country(region: object) -> None:
    assert error({"numbers": {"default_country": region}}).startswith("numbers.default_country: ")


def test_default_country_case_insensitive() -> None:
    assert parse({"numbers": {"default_country": "us"}}).numbers.default_country == "US"


def test_password_and_hash_both_or_neither() -> None:
    msg = error(with_account(password_hash=FAST_HASH))
    assert msg.startswith("account[1].password: ") and "both" in msg
    accounts = copy.deepcopy(MINIMAL["account"])
    del accounts[1]["password"]
    msg = error({"account": accounts})
    assert msg.startswith("account[1].password: one of 'password' or 'password_hash' is required")


@pytest.mark.parametrize(
    "bad",
    [
        "plaintext",
        "md5$1000$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==",
        "pbkdf2_sha256$abc$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==",
        "pbkdf2_sha256$0$c2FsdA==$aGFzaGhhc2hoYXNoaGFzaA==",
        "pbkdf2_sha256$1000$!!!$aGFzaGhhc2hoYXNoaGFzaA==",
        "pbkdf2_sha256$1000$c2FsdA==$aGFzaA==",
        "pbkdf2_sha256$1000$$aGFzaGhhc2hoYXNoaGFzaA==",
    ],
)
def test_bad_hash_format(bad: str) -> None:
    accounts = copy.deepcopy(MINIMAL["account"])
    del accounts[1]["password"]
    accounts[1]["password_hash"] = bad
    msg = error({"account": accounts})
    assert msg.startswith("account[1].password_hash: malformed hash")
    assert bad not in msg  # never echo the (secret) hash


def test_type_and_range_errors() -> None:
    assert error({"session": {"window": 0}}).startswith("session.window: expected an integer 1-100000")
    assert error({"session": {"window": True}}).endswith("got true")
    assert error({"session": {"max_pdu_size": 15}}).startswith("session.max_pdu_size:")
    assert error({"session": {"response_timeout": 0}}).startswith(
        "session.response_timeout: expected a positive number of seconds"
    )
    assert error({"session": {"bind_timeout": "10"}}).startswith("session.bind_timeout:")
    assert error({"logging": {"mask_numbers": 1}}).startswith(
        "logging.mask_numbers: expected true or false, got 1"
    )
    msg = error({"logging": {"format": "xml"}})
    assert msg == "logging.format: expected one of 'auto', 'json', 'console', got 'xml'"
    assert error(with_account(traffic="promo")).startswith("account[1].traffic:")
    assert error({"listen": 5}) == "listen: expected a table, got 5"
    assert error({"admin": {"listen": "localhost"}}).startswith("admin.listen: expected")
    assert error({"admin": {"listen": "localhost:65536"}}).startswith("admin.listen: port")
    assert error({"admin": {"tokens": "x"}}).startswith("admin.tokens: expected an array")
    assert error(with_upstream(reconnect_backoff_max=0.1)).startswith(
        "upstream[0].reconnect_backoff_max: must be at least"
    )
    assert error(with_account(keywords={"opt_out": []})).startswith(
        "account[1].keywords.opt_out: must not be empty"
    )
    msg = error(with_account(keywords={"opt_out": ["STOP"], "opt_in": ["stop"]}))
    assert msg.startswith("account[1].keywords: ") and "STOP" in msg
    assert error(with_account(keywords={"help": ["!!!"]})).startswith("account[1].keywords: ")
    assert error(with_account(keywords={"help": ["ok", 3]})).startswith(
        "account[1].keywords.help[1]: expected a string, got 3"
    )


def test_listen_tls_needs_cert_and_key(tmp_path: Path) -> None:
    cert = tmp_path / "c.pem"
    cert.write_text("x")
    data = copy.deepcopy(MINIMAL) | {"listen": {"tls_cert": "c.pem"}}
    with pytest.raises(ConfigError, match=r"^listen\.tls_key: "):
        parse_config(data, tmp_path, environ={})
    data["listen"] = {"tls_cert": "missing.pem", "tls_key": "c.pem"}
    with pytest.raises(ConfigError, match=r"^listen\.tls_cert: file not found"):
        parse_config(data, tmp_path, environ={})
    data["listen"] = {"tls_port": 3775}
    with pytest.raises(ConfigError, match=r"^listen\.tls_port: "):
        parse_config(data, tmp_path, environ={})


def test_invalid_toml(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[listen]\nport = \n")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    msg = str(info.value)
    assert str(path) in msg and "invalid TOML" in msg and "line 2" in msg


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(path) in str(info.value) and "not found" in str(info.value)


def test_load_error_names_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(EXAMPLE.read_text().replace("port = 2775", "port = 'abc'"))
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.key == "listen.port"
    # Issue 18: with the line it is written on.
    assert str(info.value) == f"{path}:12: listen.port: expected an integer 0-65535, got 'abc'"


# --------------------------------------------------------------------------------------------
# Paths, environment, describe()


def test_relative_paths_resolve_against_config_dir(tmp_path: Path) -> None:
    conf_dir = tmp_path / "etc"
    (conf_dir / "tls").mkdir(parents=True)
    for name in ("srv.crt", "srv.key", "ca.pem", "cli.crt", "cli.key"):
        (conf_dir / "tls" / name).write_text("x")
    absolute_db = tmp_path / "abs.db"
    text = EXAMPLE.read_text()
    text = text.replace(
        '# tls_cert = "certs/stopgate.crt"', 'tls_cert = "tls/srv.crt"\ntls_key = "tls/srv.key"'
    )
    text = text.replace(
        "tls = false",
        'tls = true\ntls_ca = "tls/ca.pem"\ntls_cert = "./tls/cli.crt"\ntls_key = "tls/cli.key"',
    )
    (conf_dir / "a.toml").write_text(text.replace('path = "stopgate.db"', 'path = "data/s.db"'))
    (conf_dir / "b.toml").write_text(text.replace('path = "stopgate.db"', f'path = "{absolute_db}"'))

    cfg = load_config(conf_dir / "a.toml")
    assert cfg.storage.path == conf_dir / "data" / "s.db"
    assert cfg.listen.tls_cert == conf_dir / "tls" / "srv.crt"
    assert cfg.listen.tls_key == conf_dir / "tls" / "srv.key"
    assert cfg.listen.tls_enabled and cfg.listen.tls_port is None
    up = cfg.upstreams["sim"]
    assert up.tls and up.tls_ca == conf_dir / "tls" / "ca.pem"
    assert up.tls_cert == conf_dir / "tls" / "cli.crt"
    assert up.tls_key == conf_dir / "tls" / "cli.key"

    assert load_config(conf_dir / "b.toml").storage.path == absolute_db


def test_storage_memory_is_refused() -> None:
    # SQLite's ":memory:" would become a file of that name (and WAL fails on it): say so at load.
    msg = error({"storage": {"path": ":memory:"}})
    assert msg.startswith("storage.path: ':memory:' is not supported")
    assert "stopgate.db" in msg  # what to write instead
    with pytest.raises(ConfigError) as info:
        parse({"storage": {"path": ":memory:"}})
    assert info.value.key == "storage.path"


def test_env_token_replaces_the_configured_ones(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPGATE_ADMIN_TOKEN", "from-env")
    # Issue 18: the variable replaces admin.tokens (the example's "change-me" stops working).
    assert load_config(EXAMPLE).admin.tokens == ("from-env",)
    cfg = parse({"admin": {"token_env": "MY_TOKEN"}}, environ={"MY_TOKEN": "t0k3n"})
    assert cfg.admin.tokens == ("t0k3n",)
    cfg = parse({"admin": {"token_env": ""}}, environ={"STOPGATE_ADMIN_TOKEN": "x"})
    assert cfg.admin.tokens == ()
    monkeypatch.delenv("STOPGATE_ADMIN_TOKEN")
    assert load_config(EXAMPLE).admin.tokens == ("change-me",)


def test_describe_hides_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPGATE_ADMIN_TOKEN", "envsecret")
    cfg = load_config(EXAMPLE)
    text = describe(cfg)
    for secret in ("proxypw", "acmepw", "otppw", "change-me", "envsecret"):
        assert secret not in text
        assert secret not in repr(cfg)
    assert "***" in text
    assert "acme-otp" in text and "127.0.0.1:2776" in text and "0x45 (ESME_RSUBMITFAIL)" in text

    accounts = copy.deepcopy(MINIMAL["account"])
    del accounts[1]["password"]
    accounts[1]["password_hash"] = FAST_HASH
    hashed = parse({"account": accounts})
    _, _, salt_b64, digest_b64 = FAST_HASH.split("$")
    for shown in (describe(hashed), repr(hashed)):
        assert digest_b64 not in shown and salt_b64 not in shown


def test_config_is_frozen() -> None:
    cfg = parse()
    with pytest.raises(AttributeError):
        cfg.listen.port = 1  # type: ignore[misc]
    assert isinstance(cfg.accounts["acme"], AccountConfig)


# --------------------------------------------------------------------------------------------
# Scopes (the --scope of the CLI, the scope parameter of the admin API)


def test_scopes_resolve_to_the_only_one_or_must_be_chosen() -> None:
    two = parse({"account": MINIMAL["account"] + [{"system_id": "b", "password": "b", "upstream": "sim"}]})
    one = parse()
    assert configured_scopes(two) == ["acme", "b"] and configured_scopes(one) == ["acme"]
    assert resolve_scope(one, None) == "acme"
    assert resolve_scope(two, "b") == "b"
    with pytest.raises(ScopeError, match=r"^several scopes are configured \(acme, b\): choose one$"):
        resolve_scope(two, None)
    with pytest.raises(ScopeError, match=r"\): choose one with --scope$"):
        resolve_scope(two, None, choose="choose one with --scope")
    with pytest.raises(ScopeError, match=r"^unknown scope 'acme-otp' \(configured scopes: acme\)$"):
        resolve_scope(one, "acme-otp")  # a system_id is not a scope unless it is one
    assert scope_filter(two, None) is None and scope_filter(two, "acme") == "acme"
    with pytest.raises(ScopeError, match="unknown scope"):
        scope_filter(two, "nope")


# --------------------------------------------------------------------------------------------
# Passwords


def test_hash_round_trip() -> None:
    hashed = hash_password("s3cret", iterations=1000)
    algorithm, iterations, _salt, _digest = hashed.split("$")
    assert (algorithm, iterations) == ("pbkdf2_sha256", "1000")
    assert verify_password("s3cret", plain=None, hashed=hashed)
    assert not verify_password("s3cres", plain=None, hashed=hashed)
    assert not verify_password("", plain=None, hashed=hashed)
    assert hash_password("s3cret", iterations=1000) != hashed  # random salt
    assert hash_password("x", salt=b"abc", iterations=10) == hash_password("x", salt=b"abc", iterations=10)


def test_default_iterations() -> None:
    assert hash_password("pw", salt=b"salt").split("$")[1] == "200000"


def test_plain_verify() -> None:
    assert verify_password("acmepw", plain="acmepw", hashed=None)
    assert not verify_password("acmepx", plain="acmepw", hashed=None)
    assert not verify_password("acmepw", plain=None, hashed=None)
    with pytest.raises(ValueError):
        verify_password("x", plain="x", hashed=FAST_HASH)


def test_hashed_account_verifies() -> None:
    accounts = copy.deepcopy(MINIMAL["account"])
    del accounts[1]["password"]
    accounts[1]["password_hash"] = FAST_HASH
    acct = parse({"account": accounts}).accounts["acme-otp"]
    assert acct.password is None and acct.password_hash == FAST_HASH
    assert acct.verify_password("s3cret")
    assert not acct.verify_password("wrong")


def test_verify_cache_avoids_recomputation(monkeypatch: pytest.MonkeyPatch) -> None:
    passwords.clear_cache()
    calls = 0
    real = hashlib.pbkdf2_hmac

    def counting(*args: Any, **kwargs: Any) -> bytes:
        nonlocal calls
        calls += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(hashlib, "pbkdf2_hmac", counting)
    for _ in range(5):
        assert verify_password("s3cret", plain=None, hashed=FAST_HASH)
        assert not verify_password("nope", plain=None, hashed=FAST_HASH)
    assert calls == 2
    passwords.clear_cache()
    assert verify_password("s3cret", plain=None, hashed=FAST_HASH)
    assert calls == 3


def test_verify_cache_is_bounded() -> None:
    passwords.clear_cache()
    for i in range(passwords.CACHE_SIZE + 50):
        verify_password(f"wrong{i}", plain=None, hashed=FAST_HASH)
    assert len(passwords._bad) == passwords.CACHE_SIZE
    assert verify_password("s3cret", plain=None, hashed=FAST_HASH)
    assert len(passwords._good) == 1
