"""The proxy's per-message Python work measured in-process, without sockets or an event loop turn.

    python -m tools.bench_core                       # every mix, 100,000 messages, best of 5 runs
    python -m tools.bench_core --mix marketing --count 300000 --profile   # + cProfile top 25
    python -m tools.bench_core --bytecodes       # bytecodes and calls per message: no clock, no noise

It drives the real code a relayed submit_sm goes through: ``Link._dispatch`` on the ESME link (framing,
the state machine, decoding, the PDU counts), ``EsmeSession._on_esme``, the opt-out policy (number,
suppression check, footer), ``Connection.send_request`` on the upstream link, and back: the SMSC's
submit_sm_resp through the upstream link to the ESME's. Frames go in 64 at a time, as a window does.
The links' streams are never used; the bytes they would write are dropped.

What it leaves out is what :mod:`tools.bench` adds on top: socket reads and writes, event loop turns and
the other processes sharing the cores. The difference between the two is the cost of the I/O layer.

``--bytecodes`` counts instead of timing: the interpreter's instructions executed, Python functions
entered and C functions called per message, with a per-function table. The counts do not move with the
machine's speed, so a change of a few percent shows where timings cannot (they are not time: a C call
such as a regex match counts as one).
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import functools
import pstats
import sys
import tempfile
import time
import types
from pathlib import Path
from typing import Any

import anyio

from gateway.config import load_config
from gateway.metrics import Metrics
from gateway.optout.engine import OptoutPolicy
from gateway.proxy.link import Link
from gateway.proxy.server import Proxy
from gateway.proxy.session import EsmeSession
from gateway.smpp.codec import encode_fields
from gateway.smpp.connection import Connection
from gateway.smpp.constants import BindMode
from gateway.smpp.pdu import SubmitSmResp
from gateway.smpp.states import Role, State
from gateway.store.index import SuppressionIndex
from gateway.store.memory import MemoryStore
from tools.bench.mixes import (
    FIRST_SEQ,
    MIXES,
    SCOPE,
    SUPPRESSED_POOL,
    build_frames,
    stored_number,
)
from tools.bench.proxy_config import write_config

BATCH = 64


class _NoStream:
    """A link's stream that is never read or written here."""

    def extra(self, attribute: Any, default: Any = None) -> Any:
        return default


def _link(conn: Connection, name: str, pdu_counts: Any) -> Link:
    return Link(_NoStream(), conn, name=name, pdu_counts=pdu_counts)  # type: ignore[arg-type]


class _Counter:
    """sys.settrace / sys.setprofile hooks counting per message what runs between start and stop."""

    def __init__(self) -> None:
        self.bytecodes: collections.Counter[str] = collections.Counter()
        self.calls: collections.Counter[str] = collections.Counter()
        self.c_calls = 0

    def _trace(self, frame: types.FrameType, event: str, arg: object) -> Any:
        frame.f_trace_opcodes = True
        if event == "opcode":
            code = frame.f_code
            self.bytecodes[f"{code.co_qualname} ({Path(code.co_filename).name})"] += 1
        elif event == "call":
            code = frame.f_code
            self.calls[f"{code.co_qualname} ({Path(code.co_filename).name})"] += 1
        return self._trace

    def _profile(self, frame: types.FrameType, event: str, arg: object) -> None:
        if event == "c_call":
            self.c_calls += 1

    def start(self) -> None:
        sys.settrace(self._trace)
        sys.setprofile(self._profile)

    def stop(self) -> None:
        sys.settrace(None)
        sys.setprofile(None)


async def measure(
    mix_name: str, count: int, *, profile: bool = False, counter: _Counter | None = None, pooled: bool = False
) -> dict[str, Any]:
    mix = MIXES[mix_name]
    with tempfile.TemporaryDirectory() as tmp:
        path = write_config(
            Path(tmp),
            smsc_port=1,
            listen_port=2,
            storage=Path(tmp) / "s.db",
            window=BATCH,
            max_sessions=4,
            pooled=1 if pooled else 0,
        )
        config = load_config(path)
    index = SuppressionIndex()
    for k in range(SUPPRESSED_POOL):
        index.add(SCOPE, "+" + stored_number(k))
    metrics = Metrics()
    policy = OptoutPolicy(config, MemoryStore(), index, metrics)
    proxy = Proxy(config, policy, pdu_counts=metrics.pdu_counts)
    account = config.accounts[mix.account[0]]

    esme_conn = Connection(Role.SMSC, max_pdu_size=config.session.max_pdu_size)
    esme_conn.state, esme_conn.bind_mode = State.BOUND_TRX, BindMode.TRANSCEIVER
    up_conn = Connection(Role.ESME, max_pdu_size=config.session.max_pdu_size)
    up_conn.state, up_conn.bind_mode = State.BOUND_TRX, BindMode.TRANSCEIVER
    esme = _link(esme_conn, "esme", metrics.pdu_counts)
    session = EsmeSession(proxy, esme, "bench")
    session._account, session._bind_mode = account, BindMode.TRANSCEIVER
    upstream = _link(up_conn, "upstream", metrics.pdu_counts)
    session.window = BATCH
    esme._handler, upstream._handler = session._on_esme, session._on_upstream
    if proxy.router is not None:  # pooled mode: the upstream link is the pool's one bind
        bind = proxy.router.pools["sim"].binds[0]
        bind.link, bind.state = upstream, "bound"
        bind.pool.bind_changed()
        upstream._handler = bind._on_event
    else:
        session.upstream = upstream

    frames, length, _ = build_frames(mix, count, first_seq=FIRST_SEQ, number_base=10**6, suppressed_base=0)
    resp = b"".join(encode_fields(SubmitSmResp(message_id=f"{seq:016x}"), seq) for seq in range(1, count + 1))
    resp_len = len(resp) // count
    profiler = cProfile.Profile() if profile else None
    started = time.process_time()
    if profiler:
        profiler.enable()
    if counter:
        counter.start()
    for first in range(0, count, BATCH):
        last = min(count, first + BATCH)
        now = time.monotonic()
        esme_conn.receive_data(bytes(frames[first * length : last * length]), now)
        esme._dispatch()
        esme.conn.data_to_send()  # what the ESME would get back (refusals)
        # The SMSC answers every submit that went up: their numbers are consecutive from 1.
        up_first = up_conn._next_sequence - up_conn.outstanding - 1
        answered = up_conn.outstanding
        upstream.conn.data_to_send()
        up_conn.receive_data(resp[up_first * resp_len : (up_first + answered) * resp_len], now)
        upstream._dispatch()
        esme.conn.data_to_send()
    if counter:
        counter.stop()
    if profiler:
        profiler.disable()
    cpu = time.process_time() - started
    if profiler:
        pstats.Stats(profiler, stream=sys.stdout).sort_stats("tottime").print_stats(25)
    return {"mix": mix_name, "count": count, "us_per_msg": cpu / count * 1e6}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mix", default="marketing,footered,ucs2,transactional,suppressed")
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5, help="runs per mix; the best is reported")
    parser.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    parser.add_argument(
        "--bytecodes", action="store_true", help="count bytecodes and calls per message instead of timing"
    )
    parser.add_argument(
        "--pooled", action="store_true", help="pooled mode (a [[route]]): through the proxy's own bind"
    )
    args = parser.parse_args(argv)
    for name in args.mix.split(","):
        if name not in MIXES or name == "long":
            parser.error(f"--mix: {name!r} is not one of the one-segment mixes")
    if args.bytecodes:
        count = min(args.count, 6400)  # tracing is ~100x slower; the counts are per message anyway
        for name in args.mix.split(","):
            anyio.run(functools.partial(measure, name, count, pooled=args.pooled))  # the timed runs' warm-up
            counter = _Counter()
            anyio.run(functools.partial(measure, name, count, counter=counter, pooled=args.pooled))
            print(
                f"{name:<14} {counter.bytecodes.total() / count:7.1f} bytecodes/msg"
                f"  {counter.calls.total() / count:5.1f} Python calls/msg"
                f"  {counter.c_calls / count:5.1f} C calls/msg"
            )
            if len(args.mix.split(",")) == 1:
                for where, ops in counter.bytecodes.most_common(25):
                    calls = counter.calls[where] / count
                    print(f"  {ops / count:7.1f} bytecodes {calls:5.2f} calls  {where}")
        return 0
    for name in args.mix.split(","):
        runs = sorted(
            anyio.run(functools.partial(measure, name, args.count, profile=args.profile, pooled=args.pooled))[
                "us_per_msg"
            ]
            for _ in range(1 if args.profile else args.repeat)
        )
        print(
            f"{name:<14} {runs[0]:6.1f} us/msg in-process (no sockets), best of {len(runs)};"
            f" median {runs[len(runs) // 2]:.1f}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
