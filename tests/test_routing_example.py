"""config/routing-example.toml (two SMSCs, routes, a shared short code) loads, and ``check-config``
prints its route table in order; config/example.toml stays in per-session mode (no routes)."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from gateway.config import load_config
from gateway.ops.cli.main import main
from gateway.ops.route_view import check_route
from gateway.policy.mo_routes import MoRouter

ROOT = Path(__file__).resolve().parent.parent
ROUTING = ROOT / "config" / "routing-example.toml"
EXAMPLE = ROOT / "config" / "example.toml"


def test_check_config_prints_the_route_table_in_order() -> None:
    out = CliRunner().invoke(main, ["check-config", "--config", str(ROUTING)])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    start = lines.index("  routes (first match wins):")
    assert lines[start + 1 : start + 5] == [
        "    1. otp: account=acme-otp -> failover [agg, uk-smsc]",
        "    2. uk: to=+44 -> failover [uk-smsc, agg]",
        "    3. beta-ie: account=beta to=+353 -> weighted [agg(3), uk-smsc(1)]",
        "    4. default: (default) -> failover [agg]",
    ]
    assert "  mo route: 88088 keyword FINISH -> beta" in lines
    assert "    uk-smsc: 127.0.0.1:2776" in out.output and "    agg: 127.0.0.1:2778" in out.output
    assert lines[-1] == "config OK"


def test_check_config_without_routes_says_so() -> None:
    out = CliRunner().invoke(main, ["check-config", "--config", str(EXAMPLE)])
    assert out.exit_code == 0, out.output
    assert "  routes: none configured; each account's submits go to its own upstream" in out.output
    assert not load_config(EXAMPLE).routes


def test_the_routing_example_routes_uk_numbers_with_failover_and_shares_a_short_code() -> None:
    config = load_config(ROUTING)
    assert [(u.name, u.port) for u in config.upstreams.values()] == [("uk-smsc", 2776), ("agg", 2778)]
    uk = check_route(config, "acme", "07700 900123")
    assert (uk["route"], uk["upstreams"], uk["strategy"]) == ("uk", ["uk-smsc", "agg"], "failover")
    assert check_route(config, "acme", "+33612345678")["upstreams"] == ["agg"]
    assert check_route(config, "acme-otp", "+447700900123")["route"] == "otp"
    ie = check_route(config, "beta", "+353851234567")
    assert (ie["route"], ie["strategy"]) == ("beta-ie", "weighted")
    assert check_route(config, "acme", "+353851234567")["route"] == "default"
    router = MoRouter(config.mo.routes)
    assert router.route("88088", "STOP") == "acme"
    assert router.route("88088", "finish please") == "beta"
    assert router.route("60007", "STOP") == "beta"
