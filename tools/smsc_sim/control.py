"""The simulator's control port: one JSON object per line in (``{"cmd": name, ...arguments}``), one
JSON object per line out (``{"ok": true, ...}`` or ``{"ok": false, "error": ...}``).

``python -m tools.smsc_ctl`` is its command-line client; :data:`CONTROL_COMMANDS` lists the commands.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any, Final

import anyio
import anyio.abc
from anyio.streams.buffered import BufferedByteReceiveStream

from gateway.proxy.link import LinkClosed, ResponseTimeout
from gateway.smpp.constants import CommandStatus
from gateway.smpp.fields import Tlv
from gateway.smpp.pdu import Pdu
from tools.smsc_sim.model import NoReceiverError

if TYPE_CHECKING:
    from tools.smsc_sim.server import SimulatedSmsc

__all__ = ["CONTROL_COMMANDS", "run_command", "serve_control_client"]

S = CommandStatus


async def run_command(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    """Run one control command (the decoded JSON object) on ``smsc``; never raises."""
    try:
        name = command.get("cmd")
        handler = CONTROL_COMMANDS.get(name) if isinstance(name, str) else None
        if handler is None:
            return {"ok": False, "error": f"unknown command {name!r}; known: {sorted(CONTROL_COMMANDS)}"}
        result = await handler(smsc, command)
        return {"ok": True, **result}
    except NoReceiverError as exc:
        return {"ok": False, "error": str(exc)}
    except (ResponseTimeout, LinkClosed) as exc:
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
    except (KeyError, TypeError, ValueError) as exc:
        return {"ok": False, "error": f"bad arguments: {type(exc).__name__}: {exc}"}
    except Exception as exc:  # the control port must survive anything
        smsc.log.warning("control command failed", error=repr(exc))
        return {"ok": False, "error": f"{type(exc).__name__}: {exc}"}


async def serve_control_client(smsc: SimulatedSmsc, stream: anyio.abc.SocketStream) -> None:
    """Answer one control connection's command lines until it closes."""
    buffered = BufferedByteReceiveStream(stream)
    async with stream:
        while True:
            try:
                line = await buffered.receive_until(b"\n", 1 << 20)
            except anyio.DelimiterNotFound:
                with contextlib.suppress(Exception):
                    await stream.send(b'{"ok": false, "error": "line too long"}\n')
                return
            except (anyio.EndOfStream, anyio.IncompleteRead, anyio.BrokenResourceError, OSError):
                return
            if not line.strip():
                continue
            try:
                command = json.loads(line)
            except ValueError as exc:
                reply: dict[str, Any] = {"ok": False, "error": f"bad JSON: {exc}"}
            else:
                if isinstance(command, dict):
                    reply = await run_command(smsc, command)
                else:
                    reply = {"ok": False, "error": "expected a JSON object"}
            try:
                await stream.send(json.dumps(reply).encode() + b"\n")
            except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                return


# --- argument checks ---------------------------------------------------------------------------------


def _flag(command: Mapping[str, Any], key: str, default: bool = False) -> bool:
    value = command.get(key, default)
    if not isinstance(value, bool):
        raise ValueError(f"{key!r} must be true or false, not {value!r}")
    return value


def _on(command: Mapping[str, Any]) -> bool:
    return _flag(command, "on", True)


def _int(command: Mapping[str, Any], key: str, default: int | None = None) -> int:
    value = command.get(key, default)
    if isinstance(value, str):
        value = int(value, 0)
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(f"{key!r} must be an integer, not {value!r}")
    return value


_DELIVER_INTS = (
    "data_coding",
    "esm_class",
    "source_addr_ton",
    "source_addr_npi",
    "dest_addr_ton",
    "dest_addr_npi",
)


def _deliver_kwargs(command: Mapping[str, Any], data_key: str) -> dict[str, Any]:
    allowed = {
        "cmd", "system_id", "source_addr", "destination_addr", "text", "hex", "data_coding", "esm_class",
        "source_addr_ton", "source_addr_npi", "dest_addr_ton", "dest_addr_npi", "tlvs", "timeout",
    }  # fmt: skip
    unknown = set(command) - allowed
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    kwargs: dict[str, Any] = {
        "source_addr": str(command["source_addr"]),
        "destination_addr": str(command["destination_addr"]),
        "timeout": float(command.get("timeout", 5.0)),
    }
    if command.get("system_id") is not None:
        kwargs["system_id"] = str(command["system_id"])
    if "hex" in command:
        kwargs[data_key] = bytes.fromhex(str(command["hex"]))
    else:
        kwargs["text"] = str(command.get("text", ""))
    for key in _DELIVER_INTS:
        if key in command:
            kwargs[key] = _int(command, key)
    kwargs["tlvs"] = [Tlv(int(tag), bytes.fromhex(value)) for tag, value in command.get("tlvs", [])]
    return kwargs


def _response_summary(resp: Pdu) -> dict[str, Any]:
    status = resp.command_status
    try:
        name = CommandStatus(status).name
    except ValueError:
        name = f"0x{status:08x}"
    return {"status": status, "status_name": name, "command": resp.command_id.name.lower()}


async def _cmd_deliver(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return _response_summary(await smsc.deliver(**_deliver_kwargs(command, "short_message")))


async def _cmd_deliver_data_sm(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return _response_summary(await smsc.deliver_data_sm(**_deliver_kwargs(command, "payload")))


async def _cmd_stats(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return smsc.stats()


async def _cmd_received(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    last = _int(command, "last", 20)
    records = smsc.received[-last:] if last > 0 else []
    return {"submits": smsc.submit_count, "records": [r.summary() for r in records]}


async def _cmd_throttle(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.throttle_next(_int(command, "n"))
    return {"faults": smsc.faults}


async def _cmd_fail(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.fail_next(_int(command, "n"), _int(command, "status", S.ESME_RSYSERR))
    return {"faults": smsc.faults}


async def _cmd_generic_nack(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.generic_nack_next(_int(command, "n"), _int(command, "status", S.ESME_RSYSERR))
    return {"faults": smsc.faults}


async def _cmd_stall(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.stall(_on(command), enquire_link=_flag(command, "enquire_link"), binds=_flag(command, "binds"))
    return {"faults": smsc.faults}


async def _cmd_delay(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.respond_delay(float(command["seconds"]))
    return {"faults": smsc.faults}


async def _cmd_refuse_binds(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.refuse_binds(_on(command))
    return {"faults": smsc.faults}


async def _cmd_receipts(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.receipts = _on(command)
    if "delay" in command:
        smsc.receipt_delay = max(0.0, float(command["delay"]))
    return {"receipts": smsc.receipts, "receipt_delay": smsc.receipt_delay}


async def _cmd_reset(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    smsc.reset_faults()
    if command.get("clear", False):
        smsc.clear()
    return {"faults": smsc.faults}


async def _cmd_unbind_all(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return {"sessions": await smsc.unbind_all(float(command.get("timeout", 2.0)))}


async def _cmd_disconnect_all(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return {"sessions": await smsc.disconnect_all()}


async def _cmd_ping(smsc: SimulatedSmsc, command: Mapping[str, Any]) -> dict[str, Any]:
    return {}


ControlHandler = Callable[["SimulatedSmsc", Mapping[str, Any]], Awaitable[dict[str, Any]]]

#: Control-port commands: ``{"cmd": name, ...arguments}`` in, ``{"ok": true, ...}`` out.
CONTROL_COMMANDS: Final[dict[str, ControlHandler]] = {
    "ping": _cmd_ping,
    "stats": _cmd_stats,
    "received": _cmd_received,  # last (20)
    "deliver": _cmd_deliver,  # source_addr, destination_addr, text | hex, system_id, data_coding, ...
    "deliver_data_sm": _cmd_deliver_data_sm,  # same fields, sent as data_sm + message_payload
    "throttle": _cmd_throttle,  # n
    "fail": _cmd_fail,  # n, status (default 8)
    "generic_nack": _cmd_generic_nack,  # n, status (default 8)
    "stall": _cmd_stall,  # on, enquire_link (false), binds (false)
    "delay": _cmd_delay,  # seconds
    "refuse_binds": _cmd_refuse_binds,  # on
    "receipts": _cmd_receipts,  # on, delay
    "reset": _cmd_reset,  # clear (false): also forget records and counters
    "unbind_all": _cmd_unbind_all,  # timeout (2.0)
    "disconnect_all": _cmd_disconnect_all,
}
