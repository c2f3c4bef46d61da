"""``python -m tools.smsc_sim``: run the simulated SMSC as a process until SIGTERM or SIGINT, or measure
its throughput (``--selftest``)."""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
from typing import Any

import anyio

from tools.smsc_sim.selftest import run_selftest
from tools.smsc_sim.server import SimulatedSmsc

__all__ = ["build_parser", "main", "parse_users"]


def parse_users(spec: str | None) -> dict[str, str] | None:
    """``"proxy:proxypw,other:pw2"`` -> {"proxy": "proxypw", "other": "pw2"}; None or "" -> None."""
    if not spec:
        return None
    users = {}
    for item in spec.split(","):
        system_id, sep, password = item.strip().partition(":")
        if not sep or not system_id:
            raise ValueError(f"bad user {item!r}: expected system_id:password")
        users[system_id] = password
    return users


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.smsc_sim", description="Simulated SMPP 3.4 SMSC")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2776)
    parser.add_argument("--control-port", type=int, default=None, help="JSON-lines control port")
    parser.add_argument("--users", default=None, help="system_id:password,... (default: accept any)")
    parser.add_argument("--receipts", action="store_true", help="send a receipt for every accepted submit")
    parser.add_argument("--receipt-delay", type=float, default=0.0, help="seconds before a receipt")
    parser.add_argument("--message-id-prefix", default="")
    parser.add_argument("--keep", type=int, default=10_000, help="received records kept (0: unlimited)")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--log-format", default="auto", choices=["auto", "json", "console"])
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop if it is installed")
    parser.add_argument("--selftest", action="store_true", help="measure submit_sm throughput and exit")
    parser.add_argument("--count", type=int, default=50_000, help="selftest: submits per round")
    parser.add_argument("--window", type=int, default=64, help="selftest: submits in flight")
    parser.add_argument("--rounds", type=int, default=3, help="selftest: rounds")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.selftest:
        return run_selftest(args)
    from gateway.config import LoggingConfig
    from gateway.ops.logs import configure_logging

    configure_logging(LoggingConfig(level=args.log_level, format=args.log_format))
    try:
        users = parse_users(args.users)
    except ValueError as exc:
        print(exc, file=sys.stderr)
        return 2
    smsc = SimulatedSmsc(
        args.host,
        args.port,
        users,
        receipts=args.receipts,
        receipt_delay=args.receipt_delay,
        message_id_prefix=args.message_id_prefix,
        control_port=args.control_port,
        keep=args.keep or None,
    )
    backend_options: dict[str, Any] = {}
    if args.uvloop:
        try:
            import uvloop  # noqa: F401
        except ImportError:
            print("uvloop is not installed; using the default event loop", file=sys.stderr)
        else:
            backend_options["use_uvloop"] = True
    with contextlib.suppress(KeyboardInterrupt):
        anyio.run(_serve_until_signalled, smsc, backend="asyncio", backend_options=backend_options)
    return 0


async def _serve_until_signalled(smsc: SimulatedSmsc) -> None:
    """Serve until SIGTERM or SIGINT, then close every connection and the listener(s)."""
    async with anyio.create_task_group() as tg:
        await tg.start(smsc.serve)
        try:
            with anyio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
                async for signum in signals:
                    smsc.log.info("stopping on signal", signal=signal.Signals(signum).name)
                    break
        except NotImplementedError:  # no signal receiver on this platform: serve until interrupted
            await anyio.sleep_forever()
        await smsc.stop()
        tg.cancel_scope.cancel()
