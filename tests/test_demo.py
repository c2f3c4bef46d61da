"""`make run` (tools/demo.py) and the README's next step (issue 18 item 5): the demo works on every run,
also when earlier runs opted out its subscribers, and the README's `smsc_ctl deliver` works as
written while it runs (the demo's ESME stays bound)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from tools.ports import free_port

ROOT = Path(__file__).resolve().parent.parent
#: The README's command, as written there (its --port is the demo's control port, 2777 by default).
README_STEP = (
    ".venv/bin/python -m tools.smsc_ctl --port 2777 deliver --from 447700900401 --to 88088 --text STOP"
)


def readme_step() -> list[str]:
    assert README_STEP in (ROOT / "README.md").read_text()
    return README_STEP.split()


def demo_config(tmp_path: Path) -> tuple[Path, int]:
    """config/example.toml on free ports and a store in ``tmp_path``; returns it and the control port."""
    while True:
        smsc = free_port()
        control = smsc + 1
        try:
            import socket

            with socket.socket() as probe:
                probe.bind(("127.0.0.1", control))
            break
        except OSError:
            continue
    text = (ROOT / "config" / "example.toml").read_text()
    text = re.sub(r"(?m)^port = 2775$", f"port = {free_port()}", text)
    text = re.sub(r"(?m)^port = 2776$", f"port = {smsc}", text)
    text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{free_port()}"')
    text = text.replace('path = "stopgate.db"', f'path = "{tmp_path / "stopgate.db"}"')
    path = tmp_path / "demo.toml"
    path.write_text(text)
    return path, control


def run_demo(config: Path, control: int, during: Callable[[], None] | None = None) -> str:
    """Start the demo, wait until it says it stays up, run the README's step (and ``during``) against
    it, stop it."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    demo = subprocess.Popen(
        [sys.executable, "-m", "tools.demo", "--config", str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        deadline = time.monotonic() + 60
        assert demo.stdout is not None
        while time.monotonic() < deadline:
            line = demo.stdout.readline()
            if not line:
                break
            lines.append(line)
            if "Ctrl-C to stop" in line:
                break
        out = "".join(lines)
        assert "Ctrl-C to stop" in out and "Traceback" not in out, out
        command = readme_step()
        command[0] = sys.executable
        command[command.index("--port") + 1] = str(control)
        step = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30)
        assert step.returncode == 0, (step.stdout, step.stderr, out)
        if during is not None:
            during()
    finally:
        demo.send_signal(signal.SIGINT)
        rest, _ = demo.communicate(timeout=30)
    out += rest
    assert demo.returncode == 0, out
    return out


def test_the_demo_then_the_readme_step_every_time(tmp_path: Path) -> None:
    config, control = demo_config(tmp_path)
    first = run_demo(config, control)
    assert "the next marketing submit is refused" in first
    assert "ESME received deliver_sm: b'STOP'" in first  # the README's MO reached the demo's ESME
    # Earlier runs opted out every pool number but one: the next run still works, with that one.
    numbers = [f"+447700900{n:03d}" for n in range(1000) if n != 123]
    listing = tmp_path / "optouts.csv"
    listing.write_text("number\n" + "\n".join(numbers) + "\n")
    imported = subprocess.run(
        [sys.executable, "-m", "gateway", "optouts", "import", str(listing), "--scope", "acme",
         "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    second = run_demo(config, control)
    assert "the subscriber +447700900123 texts STOP" in second
    assert "the next marketing submit is refused" in second
    # And once even that one is opted out, the demo lifts its own opt-out of one number.
    third = run_demo(config, control)
    assert "the next marketing submit is refused" in third


def _free_pair() -> int:
    """A free port whose next port up is free too (a simulator and its control port)."""
    import socket

    while True:
        port = free_port()
        try:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue


def test_the_demo_starts_one_simulator_per_upstream_of_the_routing_example(tmp_path: Path) -> None:
    uk, agg = _free_pair(), _free_pair()
    while abs(agg - uk) < 2:
        agg = _free_pair()
    text = (ROOT / "config" / "routing-example.toml").read_text()
    text = re.sub(r"(?m)^port = 2775$", f"port = {free_port()}", text)
    text = re.sub(r"(?m)^port = 2776$", f"port = {uk}", text)
    text = re.sub(r"(?m)^port = 2778$", f"port = {agg}", text)
    text = text.replace('listen = "127.0.0.1:8025"', f'listen = "127.0.0.1:{free_port()}"')
    text = text.replace('path = "stopgate.db"', f'path = "{tmp_path / "stopgate.db"}"')
    config = tmp_path / "routing.toml"
    config.write_text(text)
    # UK numbers go to uk-smsc (its account's upstream, and the first of the "uk" route): the
    # walkthrough and the README's step run against that simulator's control port.
    answers: list[subprocess.CompletedProcess[str]] = []

    def ask_agg() -> None:
        command = [sys.executable, "-m", "tools.smsc_ctl", "--port", str(agg + 1), "stats"]
        answers.append(subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=30))

    out = run_demo(config, uk + 1, ask_agg)
    assert f"simulated SMSC for uk-smsc on 127.0.0.1:{uk} (control port {uk + 1})" in out
    assert f"simulated SMSC for agg on 127.0.0.1:{agg} (control port {agg + 1})" in out
    assert "the next marketing submit is refused" in out
    assert "ESME received deliver_sm: b'STOP'" in out
    # The other simulator was up, on its own control port (nothing submitted to it: no UK number).
    [stats] = answers
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["port"] == agg


def test_plan_sims_one_per_local_address() -> None:
    from gateway.config import parse_config
    from tools.demo import plan_sims

    def upstream(name: str, host: str, port: int, system_id: str = "proxy") -> dict[str, object]:
        return {"name": name, "host": host, "port": port, "system_id": system_id, "password": "pw"}

    data = {
        "upstream": [
            upstream("a", "127.0.0.1", 3000),
            upstream("b", "127.0.0.1", 3001, "other"),
            upstream("c", "127.0.0.1", 3000, "third"),
            upstream("remote", "smsc.example.net", 2775),
        ],
        "account": [{"system_id": "acme", "password": "acmepw", "upstream": "a"}],
    }
    plans = plan_sims(parse_config(data, ROOT))
    assert [(p.port, p.control_port, p.upstreams) for p in plans] == [
        (3000, 0, ("a", "c")),  # 3001 is b's port: its control port is any free one
        (3001, 3002, ("b",)),
    ]
    assert plans[0].users == {"proxy": "pw", "third": "pw"}
