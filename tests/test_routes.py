"""The MT route table (issue 14): pure matching, checks at config load, the operator's views."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.config import ConfigError
from gateway.config.advice import config_warnings
from gateway.config.describe import describe
from gateway.policy.routes import RouteRule, RouteTable, check_rules
from tests.stack import BASE, make_config

UP = ("a", "b", "c")


def rule(name: str, *upstreams: str, **conditions: Any) -> RouteRule:
    fields = {k: frozenset(v) for k, v in conditions.items() if k != "strategy"}
    if "strategy" in conditions:
        fields["strategy"] = conditions["strategy"]
    return RouteRule(name=name, upstreams=upstreams or ("a",), **fields)


def linear(rules: list[RouteRule], account: str, dest: str, source: str, st_: str) -> RouteRule | None:
    """The specification: the first rule, in order, whose every condition holds (a scan)."""
    for r in rules:
        if (
            (not r.prefixes or any(dest.startswith(p) for p in r.prefixes))
            and (not r.accounts or account in r.accounts)
            and (not r.sources or source in r.sources)
            and (not r.service_types or st_ in r.service_types)
        ):
            return r
    return None


def test_first_match_wins_by_order_not_by_prefix_length() -> None:
    rules = [
        rule("acme-uk", "b", accounts={"acme"}, prefixes={"44"}),
        rule("uk-mobile", "c", prefixes={"447"}),
        rule("otp", "a", service_types={"OTP"}),
        rule("default", "a"),
    ]
    table = RouteTable(rules)
    assert table.match("acme", "447700900123").name == "acme-uk"  # type: ignore[union-attr]
    assert table.match("beta", "447700900123").name == "uk-mobile"  # type: ignore[union-attr]
    assert table.match("beta", "33612345678", service_type="OTP").name == "otp"  # type: ignore[union-attr]
    assert table.match("beta", "33612345678").name == "default"  # type: ignore[union-attr]
    assert RouteTable([rule("uk", prefixes={"44"})]).match("x", "33") is None


prefix = st.from_regex(r"[1-9][0-9]{0,3}", fullmatch=True)
names = st.sampled_from(["acme", "beta", "gamma"])
conditions = st.fixed_dictionaries(
    {},
    optional={
        "accounts": st.sets(names, min_size=1, max_size=2),
        "prefixes": st.sets(prefix, min_size=1, max_size=3),
        "sources": st.sets(st.sampled_from(["ACME", "12345"]), min_size=1, max_size=2),
        "service_types": st.sets(st.sampled_from(["OTP", "MKT"]), min_size=1, max_size=2),
    },
)


@settings(max_examples=300)
@given(
    st.lists(conditions, max_size=12),
    names,
    st.from_regex(r"[1-9][0-9]{5,14}", fullmatch=True),
    st.sampled_from(["", "ACME", "12345"]),
    st.sampled_from(["", "OTP", "MKT"]),
)
def test_the_index_agrees_with_a_scan(
    conds: list[dict[str, Any]], account: str, dest: str, source: str, service_type: str
) -> None:
    rules = [rule(f"r{i}", **c) for i, c in enumerate(conds)]
    assert RouteTable(rules).match(account, dest, source, service_type) is linear(
        rules, account, dest, source, service_type
    )


def test_checks() -> None:
    ok = [rule("uk", "a", prefixes={"44"}), rule("default", "b")]
    assert check_rules(ok, UP) == ([], [])
    errors, _ = check_rules([rule("uk", prefixes={"44"})], UP)
    assert errors == ["route: a default route is required (a last [[route]] with no match conditions)"]
    errors, _ = check_rules([rule("default"), rule("uk", prefixes={"44"})], UP)
    assert "route 'uk': unreachable, the default route 'default' before it matches everything" in errors
    errors, _ = check_rules([rule("x", "nope", prefixes={"44"}), rule("default")], UP)
    assert errors == ["route 'x': unknown upstream 'nope' (known: a, b, c)"]
    errors, _ = check_rules([rule("x", prefixes={"44"}), rule("y", prefixes={"44"}), rule("d")], UP)
    assert errors == ["route 'y': matches exactly what route 'x' before it matches (unreachable)"]
    weighted = RouteRule("w", ("a", "b"), "weighted", weights=(3,))
    assert "weighted needs one positive weight" in check_rules([weighted], UP)[0][0]
    _, warnings = check_rules([rule("uk", prefixes={"44"}), rule("ukm", prefixes={"447"}), rule("d")], UP)
    assert warnings == ["route 'ukm': +447 never reached, route 'uk' before it takes it"]
    _, warnings = check_rules(
        [rule("acme", accounts={"acme"}), rule("acme-uk", accounts={"acme"}, prefixes={"44"}), rule("d")], UP
    )
    assert warnings == ["route 'acme-uk': never matches, route 'acme' before it takes it all"]
    # A narrower earlier rule hides nothing.
    assert (
        check_rules(
            [rule("acme-uk", accounts={"acme"}, prefixes={"44"}), rule("uk", prefixes={"44"}), rule("d")], UP
        )[1]
        == []
    )


# --- configuration ---------------------------------------------------------------------------------

TWO_SMSCS = {
    "upstream": [
        *BASE["upstream"],
        {"name": "agg", "host": "127.0.0.1", "port": 0, "system_id": "proxy", "password": "proxypw"},
    ],
    "route": [
        {"name": "uk", "countries": ["GB"], "prefixes": ["+3531"], "upstreams": ["sim", "agg"]},
        {"name": "acme-rr", "accounts": ["acme"], "upstreams": ["sim", "agg"], "strategy": "round_robin"},
        {"name": "default", "upstreams": ["agg", "sim"], "strategy": "weighted", "weights": [3, 1]},
    ],
}


def test_config_route_table(tmp_path: Path) -> None:
    config = make_config(tmp_path, 2775, TWO_SMSCS)
    assert [r.name for r in config.routes] == ["uk", "acme-rr", "default"]
    assert config.routes[0].prefixes == frozenset({"44", "3531"})
    assert config.routes[2].weights == (3, 1)
    text = describe(config)
    assert "routes (first match wins):" in text
    assert "1. uk: to=+3531,+44 -> failover [sim, agg]" in text
    assert "3. default: (default) -> weighted [agg(3), sim(1)]" in text
    assert "routes: none configured" in describe(make_config(tmp_path, 2775))
    assert config_warnings(config) == []


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ([{"upstreams": ["sim"], "prefixes": ["+44"]}], "a default route is required"),
        ([{"upstreams": ["nope"]}], "unknown upstream 'nope'"),
        ([{"upstreams": ["sim"], "accounts": ["nobody"]}], "unknown account 'nobody'"),
        ([{"upstreams": ["sim"], "prefixes": ["44x"]}], "route[0].prefixes[0]: expected an E.164 prefix"),
        ([{"upstreams": ["sim"], "countries": ["XX"]}], "route[0].countries[0]: unknown country"),
        ([{"upstreams": ["sim"], "strategy": "random"}], "route[0].strategy"),
        ([{"upstreams": ["sim"], "weights": [0]}], "route[0].weights"),
        ([{"upstreams": ["sim"], "frm": ["x"]}], "frm"),
    ],
)
def test_config_route_errors(tmp_path: Path, routes: list[dict[str, Any]], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_config(tmp_path, 2775, {"route": routes})
    assert message in str(info.value)


# --- operator surface -------------------------------------------------------------------------------


def write(tmp_path: Path, override: dict[str, Any], name: str = "stopgate.toml") -> Path:
    from tests.config_file import write_config

    return write_config(tmp_path / name, 2775, override)


def test_cli_routes_check(tmp_path: Path) -> None:
    from gateway.ops.cli.main import main

    path = write(tmp_path, TWO_SMSCS)
    runner = CliRunner()
    out = runner.invoke(
        main, ["routes", "check", "--config", str(path), "--account", "acme", "--to", "07700 900123"]
    )
    assert out.exit_code == 0, out.output
    assert out.output.splitlines() == [
        "+447700900123: route uk: to=+3531,+44 -> failover [sim, agg]",
        "  1. sim",
        "  2. agg",
    ]
    out = runner.invoke(
        main, ["routes", "check", "--config", str(path), "--account", "acme", "--to", "+33612345678"]
    )
    assert "route acme-rr" in out.output and out.output.splitlines()[1:] == ["  1. sim", "  2. agg"]
    out = runner.invoke(
        main, ["routes", "check", "--config", str(path), "--account", "other", "--to", "+33612345678"]
    )
    assert "route default" in out.output and out.output.splitlines()[1:] == ["  1. agg", "  2. sim"]
    out = runner.invoke(
        main, ["routes", "check", "--config", str(path), "--account", "nobody", "--to", "+33612345678"]
    )
    assert out.exit_code == 2 and "unknown account 'nobody'" in out.output
    out = runner.invoke(
        main, ["routes", "check", "--config", str(path), "--account", "acme", "--to", "hello"]
    )
    assert out.exit_code == 2
    plain = write(tmp_path, {}, "plain.toml")
    out = runner.invoke(
        main, ["routes", "check", "--config", str(plain), "--account", "acme", "--to", "+33612345678"]
    )
    assert out.exit_code == 0 and "no [[route]] configured" in out.output and "  1. sim" in out.output
    out = runner.invoke(main, ["check-config", "--config", str(path)])
    assert "routes (first match wins):" in out.output


@pytest.mark.anyio
async def test_admin_get_routes(tmp_path: Path) -> None:
    import httpx

    from tests.stack import running_stack

    token = "t" * 32
    override = {**TWO_SMSCS, "admin": {"enabled": True, "listen": "127.0.0.1:0", "tokens": [token]}}
    async with running_stack(tmp_path, override) as stack:
        admin = stack.app.admin
        assert admin is not None
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{admin.port}", timeout=5) as client:  # type: ignore[attr-defined]
            assert (await client.get("/v1/routes")).status_code == 401
            body = (await client.get("/v1/routes", headers={"Authorization": f"Bearer {token}"})).json()
    assert body["configured"] is True
    assert [r["name"] for r in body["routes"]] == ["uk", "acme-rr", "default"]
    assert body["routes"][0]["prefixes"] == ["+3531", "+44"]
    assert body["routes"][2] | {} == {
        "name": "default",
        "accounts": [],
        "prefixes": [],
        "sources": [],
        "service_types": [],
        "upstreams": ["agg", "sim"],
        "strategy": "weighted",
        "weights": [3, 1],
    }
    assert json.dumps(body)
