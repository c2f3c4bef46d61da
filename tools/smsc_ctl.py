"""Command-line client for the simulated SMSC's control port (see :mod:`tools.smsc_sim`).

Examples::

    python -m tools.smsc_ctl --port 2777 deliver --from 447700900401 --to 88088 --text STOP
    python -m tools.smsc_ctl --port 2777 stats
    python -m tools.smsc_ctl --port 2777 throttle 5
    python -m tools.smsc_ctl --port 2777 fail 3 --status 0x45
    python -m tools.smsc_ctl --port 2777 stall on
    python -m tools.smsc_ctl --port 2777 raw '{"cmd": "received", "last": 5}'

Prints the JSON answer on one line; exits 0 when it says ``"ok": true``, 1 otherwise, 2 when the control
port cannot be reached.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
from typing import Any

__all__ = ["build_command", "main", "send_command"]


def send_command(
    command: dict[str, Any], *, host: str = "127.0.0.1", port: int = 2777, timeout: float = 30.0
) -> Any:
    """Send one command object and return the decoded answer."""
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(json.dumps(command).encode() + b"\n")
        reader = sock.makefile("rb")
        line = reader.readline()
    if not line:
        raise ConnectionError("the control port closed the connection without answering")
    return json.loads(line)


def _on_off(value: str) -> bool:
    lowered = value.lower()
    if lowered in ("on", "true", "yes", "1"):
        return True
    if lowered in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected on or off, not {value!r}")


def _status(value: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a status number: {value!r}") from None


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.smsc_ctl", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=2777)
    parser.add_argument("--timeout", type=float, default=30.0)
    sub = parser.add_subparsers(dest="command", required=True)

    for name, help_text in (
        ("deliver", "send an MO deliver_sm to a bound receiver; prints its deliver_sm_resp status"),
        ("deliver-data-sm", "the same as a data_sm with message_payload"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("--from", dest="source_addr", required=True)
        p.add_argument("--to", dest="destination_addr", required=True)
        text = p.add_mutually_exclusive_group(required=True)
        text.add_argument("--text")
        text.add_argument("--hex", help="the message octets in hex")
        p.add_argument("--system-id", default=None, help="deliver to a session of this system_id")
        p.add_argument("--data-coding", type=_status, default=0)
        p.add_argument("--esm-class", type=_status, default=0)
        p.add_argument("--source-ton", type=int, default=1)
        p.add_argument("--source-npi", type=int, default=1)
        p.add_argument("--dest-ton", type=int, default=0)
        p.add_argument("--dest-npi", type=int, default=0)
        p.add_argument("--wait", type=float, default=5.0, help="seconds to wait for the response")

    sub.add_parser("ping")
    sub.add_parser("stats")
    p = sub.add_parser("received", help="the last submits received")
    p.add_argument("--last", type=int, default=20)
    p = sub.add_parser("throttle", help="answer the next N submits with ESME_RTHROTTLED")
    p.add_argument("n", type=int)
    p = sub.add_parser("fail", help="answer the next N submits with STATUS")
    p.add_argument("n", type=int)
    p.add_argument("--status", type=_status, default=8)
    p = sub.add_parser("generic-nack", help="answer the next N submits with generic_nack")
    p.add_argument("n", type=int)
    p.add_argument("--status", type=_status, default=8)
    p = sub.add_parser("stall", help="stop (on) or resume (off) answering requests")
    p.add_argument("on", type=_on_off)
    p.add_argument("--enquire-link", action="store_true", help="also stop answering enquire_link")
    p.add_argument("--binds", action="store_true", help="also stop answering binds and unbinds")
    p = sub.add_parser("delay", help="delay every response by SECONDS")
    p.add_argument("seconds", type=float)
    p = sub.add_parser("refuse-binds", help="answer binds with ESME_RBINDFAIL (on) or normally (off)")
    p.add_argument("on", type=_on_off)
    p = sub.add_parser("receipts", help="send receipts for every submit (on) or on request only (off)")
    p.add_argument("on", type=_on_off)
    p.add_argument("--delay", type=float, default=None)
    p = sub.add_parser("reset", help="clear every fault")
    p.add_argument("--clear", action="store_true", help="also forget received records and counters")
    p = sub.add_parser("unbind-all", help="send unbind to every bound session")
    p.add_argument("--wait", type=float, default=2.0)
    sub.add_parser("disconnect-all", help="drop every connection abruptly")
    p = sub.add_parser("raw", help="send a JSON object as it is")
    p.add_argument("json")
    return parser


def build_command(args: argparse.Namespace) -> dict[str, Any]:
    """The control-port command object for parsed arguments."""
    name = args.command
    if name in ("deliver", "deliver-data-sm"):
        command: dict[str, Any] = {
            "cmd": name.replace("-", "_"),
            "source_addr": args.source_addr,
            "destination_addr": args.destination_addr,
            "data_coding": args.data_coding,
            "esm_class": args.esm_class,
            "source_addr_ton": args.source_ton,
            "source_addr_npi": args.source_npi,
            "dest_addr_ton": args.dest_ton,
            "dest_addr_npi": args.dest_npi,
            "timeout": args.wait,
        }
        if args.text is not None:
            command["text"] = args.text
        else:
            command["hex"] = args.hex
        if args.system_id is not None:
            command["system_id"] = args.system_id
        return command
    if name == "raw":
        loaded = json.loads(args.json)
        if not isinstance(loaded, dict):
            raise ValueError("raw expects a JSON object")
        return loaded
    simple: dict[str, dict[str, Any]] = {
        "ping": {},
        "stats": {},
        "received": {"last": getattr(args, "last", 20)},
        "disconnect-all": {},
    }
    if name in simple:
        return {"cmd": name.replace("-", "_"), **simple[name]}
    if name == "throttle":
        return {"cmd": "throttle", "n": args.n}
    if name in ("fail", "generic-nack"):
        return {"cmd": name.replace("-", "_"), "n": args.n, "status": args.status}
    if name == "stall":
        return {"cmd": "stall", "on": args.on, "enquire_link": args.enquire_link, "binds": args.binds}
    if name == "delay":
        return {"cmd": "delay", "seconds": args.seconds}
    if name == "refuse-binds":
        return {"cmd": "refuse_binds", "on": args.on}
    if name == "receipts":
        command = {"cmd": "receipts", "on": args.on}
        if args.delay is not None:
            command["delay"] = args.delay
        return command
    if name == "reset":
        return {"cmd": "reset", "clear": args.clear}
    if name == "unbind-all":
        return {"cmd": "unbind_all", "timeout": args.wait}
    raise ValueError(f"unknown command {name}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        command = build_command(args)
    except ValueError as exc:
        print(json.dumps({"ok": False, "error": str(exc)}))
        return 1
    try:
        result = send_command(command, host=args.host, port=args.port, timeout=args.timeout)
    except (OSError, ValueError) as exc:
        print(json.dumps({"ok": False, "error": f"control port {args.host}:{args.port}: {exc}"}))
        return 2
    print(json.dumps(result))
    return 0 if isinstance(result, dict) and result.get("ok") else 1


if __name__ == "__main__":
    sys.exit(main())
