"""A small, fixed-seed run of tools/fuzz_smpp.py, and proof that the fuzzer does catch a planted bug."""

from __future__ import annotations

import pytest

from gateway.smpp import states
from gateway.smpp.codec import decode
from gateway.smpp.constants import CommandId
from tools import fuzz_smpp


def test_bounded_fuzz_run() -> None:
    report = fuzz_smpp.run(3000, seed=20250411)
    if report.crash is not None:
        pytest.fail(f"{report.crash.trace}\ninput hex: {report.crash.data.hex()}")
    assert report.count == 3000
    parsed = sum(n for k, n in report.decode_outcomes.items() if k.startswith("pdu:"))
    errors = report.count - parsed
    # the mix reaches both outcomes and all the event kinds
    assert parsed > 100 and errors > 1000
    assert {"Request", "Response", "Rejected", "UnexpectedResponse"} <= set(report.events)
    assert report.broken > 0


def test_seeds_are_valid_and_cover_every_command() -> None:
    commands = {decode(frame).command_id for frame in fuzz_smpp.SEEDS}
    assert commands == set(CommandId)


def test_scenarios_build() -> None:
    for name, make in fuzz_smpp.SCENARIOS.items():
        conn = make()
        assert conn.data_to_send() == b"", name


def test_fuzzer_finds_a_planted_bug(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the CLOSED rows removed from the state table (the bug it found), the fuzzer reports a crash."""
    table = dict(states.PEER_REQUESTS)
    for role in states.Role:
        del table[(role, states.State.CLOSED)]
    monkeypatch.setattr(states, "PEER_REQUESTS", table)
    report = fuzz_smpp.run(20000, seed=1)
    assert report.crash is not None
    assert isinstance(report.crash.error, KeyError)
    assert report.crash.data


def test_main_replays_hex(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz_smpp.main(["--hex", "00000010000000150000000000000001"]) == 0
    assert "no crash" in capsys.readouterr().out


def test_main_reports_counts(capsys: pytest.CaptureFixture[str]) -> None:
    assert fuzz_smpp.main(["--count", "200", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "inputs: 200" in out
    assert "elapsed" in out
