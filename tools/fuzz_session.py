"""Session-level fuzzing: mutated PDUs sent by a bound ESME to a running Stopgate.

tools/fuzz_smpp/ fuzzes the sans-IO core in memory; this sends the same kind of inputs
(:func:`tools.fuzz_smpp.generate`: mutated valid PDUs of every command, random bodies, random bytes)
over a real connection, so the session, the opt-out policy and the relay see them too. Invariants:

* every frame Stopgate sends back decodes: garbage in never makes garbage out;
* Stopgate never hangs: after every batch an enquire_link on the fuzzed connection is answered, unless
  the proxy closed it (framing lost, an unbind among the inputs), and then a new connection binds;
* at the end a separate, healthy session binds and submits as if nothing had happened.

Frames whose command_length is plausible (16..max) are padded or cut to it, so a mutation cannot leave
the proxy waiting for octets that never come (that case is the incomplete-PDU timeout's, tested
separately); lengths outside 16..max stay as they are (generic_nack, then the proxy closes).

    python -m tools.fuzz_session --count 100000          # starts the simulator and `stopgate run`
    python -m tools.fuzz_session --port 2775 --count 5000 --system-id acme --password acmepw
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio

from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import DEFAULT_MAX_PDU_SIZE
from gateway.smpp.pdu import EnquireLink, SubmitSm
from tools.fuzz_smpp import generate
from tools.smpp_peer import PeerClosed, SmppPeer, connect_peer

_LEN = struct.Struct(">I")


@dataclass
class SessionFuzzReport:
    count: int = 0
    connections: int = 0
    closed_by_proxy: int = 0
    #: (command, status) of every response the proxy sent on the fuzzed connections.
    answers: Counter[str] = field(default_factory=Counter)
    #: Frames from the proxy that did not decode (must stay empty).
    garbage: list[tuple[str, str]] = field(default_factory=list)
    #: Batches after which the proxy neither answered an enquire_link nor closed (must stay empty).
    hangs: list[int] = field(default_factory=list)
    healthy_after: bool = False
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.garbage and not self.hangs and self.healthy_after


def shape(data: bytes, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> bytes:
    """Make ``data`` a complete frame as far as its own length field says (see the module doc)."""
    if len(data) < 16:
        data = data + bytes(16 - len(data))
    (length,) = _LEN.unpack_from(data)
    if 16 <= length <= max_pdu_size:
        data = (data + bytes(max(0, length - len(data))))[:length]
    return data


def ends_session(frame: bytes, max_pdu_size: int = DEFAULT_MAX_PDU_SIZE) -> bool:
    """Whether the proxy closes the connection after ``frame``: framing lost, or an unbind."""
    if len(frame) < 8:
        return False
    length, command_id = struct.unpack_from(">II", frame)
    return not 16 <= length <= max_pdu_size or command_id == CommandId.UNBIND


def _record(peer: SmppPeer, report: SessionFuzzReport) -> None:
    for pdu in peer.unsolicited:
        name = CommandId(pdu.command_id).name.lower()
        report.answers[f"{name} 0x{pdu.command_status:08x}"] += 1
    peer.unsolicited.clear()
    report.garbage.extend(peer.errors)
    peer.errors.clear()


async def fuzz_session(
    port: int,
    count: int,
    seed: int,
    *,
    system_id: str = "acme",
    password: str = "acmepw",
    batch: int = 16,
    max_pdu_size: int = DEFAULT_MAX_PDU_SIZE,
    progress: Callable[[int], None] | None = None,
) -> SessionFuzzReport:
    rng = random.Random(seed)
    report = SessionFuzzReport()
    started = time.perf_counter()
    batches = 0
    while report.count < count:
        async with connect_peer(port) as esme:
            await esme.bind(system_id, password)
            report.connections += 1
            while report.count < count and not esme.closed:
                try:
                    for _ in range(min(batch, count - report.count)):
                        prefix, frame = generate(rng)
                        frame = shape(frame, max_pdu_size)
                        await esme.send(prefix + frame)
                        report.count += 1
                        if ends_session(prefix, max_pdu_size) or ends_session(frame, max_pdu_size):
                            break  # what follows would go to a closed session, untested
                    batches += 1
                    await esme.request(EnquireLink(), timeout=10)
                except PeerClosed:
                    break
                except TimeoutError:
                    if not esme.closed:
                        report.hangs.append(batches)
                    break
                finally:
                    _record(esme, report)
                if progress is not None:
                    progress(report.count)
            if esme.closed:
                report.closed_by_proxy += 1
    report.healthy_after = await healthy(port, system_id, password)
    report.seconds = time.perf_counter() - started
    return report


async def healthy(port: int, system_id: str, password: str) -> bool:
    """A fresh session binds, submits and gets OK, and keeps its connection."""
    async with connect_peer(port) as esme:
        await esme.bind(system_id, password)
        resp = await esme.request(
            SubmitSm(dest_addr_ton=1, dest_addr_npi=1, destination_addr="447700900999", short_message=b"ok")
        )
        link = await esme.request(EnquireLink())
        return (
            resp.command_status == CommandStatus.ESME_ROK
            and link.command_status == CommandStatus.ESME_ROK
            and not esme.errors
        )


async def _run_standalone(count: int, seed: int, rounds: int = 1) -> dict[str, Any]:
    """``rounds`` runs of ``count`` inputs (seeds ``seed``, ``seed + 1``...) on one process."""
    from tools.reliability import proc_stats, sim_and_stopgate

    with tempfile.TemporaryDirectory(prefix="stopgate-fuzz-") as tmp:
        async with sim_and_stopgate(Path(tmp)) as (_, stopgate):
            before = proc_stats(stopgate.pid)
            step = max(1, count // 10)

            def progress(n: int) -> None:
                if n % step < 16:
                    print(f"  {n:,} inputs", file=sys.stderr, flush=True)

            reports: list[SessionFuzzReport] = []
            after: list[str] = []
            for i in range(rounds):
                reports.append(await fuzz_session(stopgate.port, count, seed + i, progress=progress))
                after.append(str(proc_stats(stopgate.pid)))
            alive = stopgate.process.returncode is None
    answers: Counter[str] = Counter()
    for report in reports:
        answers.update(report.answers)
    return {
        "inputs": sum(r.count for r in reports),
        "seed": seed,
        "rounds": rounds,
        "seconds": round(sum(r.seconds for r in reports), 1),
        "connections": sum(r.connections for r in reports),
        "closed_by_proxy": sum(r.closed_by_proxy for r in reports),
        "garbage_frames": sum(len(r.garbage) for r in reports),
        "hangs": sum(len(r.hangs) for r in reports),
        "healthy_after": all(r.healthy_after for r in reports),
        "proxy_alive": alive,
        "proxy_before": str(before),
        "proxy_after_each_round": after,
        "top_answers": dict(answers.most_common(12)),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz_session", description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=1, help="standalone: rounds on the same process")
    parser.add_argument("--port", type=int, default=None, help="a running proxy (default: start one)")
    parser.add_argument("--system-id", default="acme")
    parser.add_argument("--password", default="acmepw")
    args = parser.parse_args(argv)

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    if args.port is None:
        result = anyio.run(_run_standalone, args.count, args.seed, args.rounds)
        ok = result["garbage_frames"] == 0 and result["hangs"] == 0 and result["healthy_after"]
        ok = ok and result["proxy_alive"]
    else:
        report = anyio.run(
            lambda: fuzz_session(
                args.port, args.count, args.seed, system_id=args.system_id, password=args.password
            )
        )
        result = {
            "inputs": report.count,
            "connections": report.connections,
            "garbage_frames": report.garbage[:5],
            "hangs": report.hangs[:5],
            "healthy_after": report.healthy_after,
        }
        ok = report.ok
    print(json.dumps(result, indent=2))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
