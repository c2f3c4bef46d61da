"""SMPP load generator for the benchmark: N submit_sm, pipelined, over one or several transceiver binds.

    python -m tools.loadgen --port 2775 --mix marketing --count 50000 --window 64
    python -m tools.loadgen --port 2775 --mix marketing --rate 5000 --count 30000   # steady rate

Built not to be the bottleneck: plain blocking sockets and one ``selectors`` loop (no asyncio), every
frame encoded before the clock starts (one template per mix from the gateway codec; only the 4 sequence
octets and the destination digits are patched per message), a window's worth of frames sent with one
``sendall`` of a memoryview slice, and responses read by their 16-octet header alone.

Latency is per message: from the ``sendall`` that carried it (at a fixed ``--rate``: from the time it
was *due*, so that a stalled peer shows up as latency instead of as fewer samples) to the ``recv`` that
returned its response. ``--wait-go`` is the protocol with :mod:`tools.bench`: bind and warm up, print
``READY``, wait for a line on stdin, run, print ``DONE`` the moment the last response arrived, then a
``RESULT {json}`` line.
"""

from __future__ import annotations

import argparse
import json
import selectors
import socket
import sys
import time
from array import array
from collections import Counter
from typing import Any

from gateway.smpp.constants import RESPONSE_BIT, CommandId
from tools.bench.mixes import (
    FIRST_SEQ,
    HEADER,
    MIXES,
    bind_frame,
    build_frames,
)
from tools.bench.stats import percentile

_SUBMIT_SM_RESP = 0x80000004
_ENQUIRE_LINK = 0x00000015
_ENQUIRE_LINK_RESP = 0x80000015
_UNBIND = 0x00000006
_UNBIND_RESP = 0x80000006
_GENERIC_NACK = CommandId.GENERIC_NACK
_BIND_RESP = 0x80000009
_OPTED_OUT = 0x400


class LoadError(RuntimeError):
    pass


class _Bind:
    """One transceiver bind and the frames it sends: ``warmup`` first, then ``count`` measured."""

    __slots__ = (
        "acked", "buf", "count", "frame_len", "index", "lag", "lat", "nxt", "pending", "sent_at", "sock",
        "statuses", "suppressed", "unexpected", "warmup",
    )  # fmt: skip

    def __init__(self, index: int, sock: socket.socket, buf: bytearray, frame_len: int, warmup: int,
                 count: int, suppressed: int) -> None:  # fmt: skip
        self.index = index
        self.sock = sock
        self.buf = memoryview(buf)
        self.frame_len = frame_len
        self.warmup = warmup
        self.count = count
        self.suppressed = suppressed
        self.nxt = 0  # next frame to send (warmup frames included)
        self.acked = 0  # responses received (warmup included)
        self.sent_at = array("d", bytes(8 * (warmup + count)))
        self.lat = array("d", [-1.0]) * count  # by measured frame; -1: no response
        self.lag: array[float] = array("d")
        self.statuses: Counter[int] = Counter()
        self.unexpected = 0
        self.pending = b""


def _connect(host: str, port: int, system_id: str, password: str, timeout: float) -> socket.socket:
    sock = socket.create_connection((host, port), timeout=timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(bind_frame(system_id, password, 1))
    data = b""
    while len(data) < 16 or len(data) < int.from_bytes(data[:4], "big"):
        chunk = sock.recv(4096)
        if not chunk:
            raise LoadError(f"{host}:{port} closed the connection during the bind")
        data += chunk
    _, cid, status, _ = HEADER.unpack_from(data)
    if cid != _BIND_RESP or status != 0:
        raise LoadError(f"bind to {host}:{port} as {system_id!r} refused: 0x{cid:08x} status 0x{status:08x}")
    return sock


def _read(b: _Bind, now: float, measuring: bool) -> int:
    """Read what is there and account every response; returns how many submit_sm_resp arrived."""
    chunk = b.sock.recv(1 << 20)
    if not chunk:
        raise LoadError(f"bind {b.index}: the peer closed the connection")
    data = b.pending + chunk if b.pending else chunk
    end = len(data)
    pos = 0
    got = 0
    unpack = HEADER.unpack_from
    sent_at = b.sent_at
    lat = b.lat
    statuses = b.statuses
    first_measured = b.warmup
    limit = len(sent_at)
    while end - pos >= 16:
        length, cid, status, seq = unpack(data, pos)
        if length > end - pos:
            break
        if length < 16:
            raise LoadError(f"bind {b.index}: bad command_length {length}")
        if cid == _SUBMIT_SM_RESP:
            k = seq - FIRST_SEQ
            if 0 <= k < limit:
                got += 1
                if measuring and k >= first_measured:
                    lat[k - first_measured] = now - sent_at[k]
                    if status:
                        statuses[status] += 1
            else:
                b.unexpected += 1
        elif cid == _ENQUIRE_LINK:
            b.sock.sendall(HEADER.pack(16, _ENQUIRE_LINK_RESP, 0, seq))
        elif cid == _GENERIC_NACK:
            k = seq - FIRST_SEQ
            if 0 <= k < limit:
                got += 1
                if measuring and k >= first_measured:
                    lat[k - first_measured] = now - sent_at[k]
                    statuses[0x10000 | status] += 1
            else:
                b.unexpected += 1
        elif cid == _UNBIND:
            b.sock.sendall(HEADER.pack(16, _UNBIND_RESP, 0, seq))
            raise LoadError(f"bind {b.index}: the peer unbound")
        elif cid & RESPONSE_BIT == 0:  # any other request (deliver_sm...): acknowledge generically
            b.sock.sendall(HEADER.pack(17, cid | RESPONSE_BIT, 0, seq) + b"\x00")
        else:
            b.unexpected += 1
        pos += length
    b.pending = data[pos:] if pos < end else b""
    b.acked += got
    return got


def _run_phase(binds: list[_Bind], window: int, rate: float, measuring: bool, idle_timeout: float) -> float:
    """Send each bind's frames of this phase and wait for every response; returns the start time."""
    sel = selectors.DefaultSelector()
    for b in binds:
        sel.register(b.sock, selectors.EVENT_READ, b)
    perf = time.perf_counter
    n_binds = len(binds)
    if measuring:
        ends = [b.warmup + b.count for b in binds]
        for b in binds:
            b.nxt = b.acked = b.warmup
    else:
        ends = [b.warmup for b in binds]
    remaining = sum(end - b.acked for b, end in zip(binds, ends, strict=True))
    started = perf() + (0.02 if rate else 0.0)
    if rate:
        # Due times, measured from `started`: global message j = m * n_binds + bind index.
        for b in binds:
            sent_at = b.sent_at
            for m in range(b.count):
                sent_at[b.warmup + m] = started + (m * n_binds + b.index) / rate
    last_progress = perf()
    try:
        while remaining > 0:
            now = perf()
            timeout = 1.0
            for b, end in zip(binds, ends, strict=True):
                room = min(end, b.acked + window)
                hi = room
                if rate:
                    due_global = int((now - started) * rate) + 1 if now >= started else 0
                    due_local = b.warmup + max(0, (due_global - b.index + n_binds - 1) // n_binds)
                    hi = min(room, due_local)
                    if hi < room:  # the next one is not due yet: wake up when it is
                        timeout = min(timeout, max(0.0, b.sent_at[max(hi, b.nxt)] - now))
                if hi > b.nxt:
                    lo, length = b.nxt, b.frame_len
                    if rate:
                        lag_append, sent_at = b.lag.append, b.sent_at
                        for k in range(lo, hi):
                            lag_append(now - sent_at[k])
                    else:
                        b.sent_at[lo:hi] = array("d", (now,)) * (hi - lo)
                    b.sock.sendall(b.buf[lo * length : hi * length])
                    b.nxt = hi
            events = sel.select(timeout)
            if events:
                now = perf()
                for key, _ in events:
                    remaining -= _read(key.data, now, measuring)
                last_progress = now
            elif perf() - last_progress > idle_timeout:
                raise LoadError(f"no response for {idle_timeout:.0f} s with {remaining} outstanding")
    finally:
        sel.close()
    return started


def _unbind(binds: list[_Bind]) -> None:
    for b in binds:
        try:
            b.sock.sendall(HEADER.pack(16, _UNBIND, 0, 1))
            b.sock.settimeout(2.0)
            data = b.pending
            deadline = time.monotonic() + 2.0
            done = False
            while not done and time.monotonic() < deadline:
                chunk = b.sock.recv(65536)
                if not chunk:
                    break
                data += chunk
                pos = 0
                while len(data) - pos >= 16:
                    length, cid, _, seq = HEADER.unpack_from(data, pos)
                    if len(data) - pos < length:
                        break
                    if cid == _UNBIND_RESP:
                        done = True
                    elif cid == _ENQUIRE_LINK:
                        b.sock.sendall(HEADER.pack(16, _ENQUIRE_LINK_RESP, 0, seq))
                    pos += length
                data = data[pos:]
        except OSError:
            pass
        finally:
            b.sock.close()


def run(args: argparse.Namespace, handshake: Any = None) -> dict[str, Any]:
    mix = MIXES[args.mix]
    system_id, password = mix.account
    if args.system_id:
        system_id, password = args.system_id, args.password
    n_binds = max(1, args.binds)
    binds: list[_Bind] = []
    for i in range(n_binds):
        warmup = args.warmup // n_binds + (1 if i < args.warmup % n_binds else 0)
        count = args.count // n_binds + (1 if i < args.count % n_binds else 0)
        # Warm-up messages take numbers after the measured ones; both blocks are fresh for this run.
        wbuf, frame_len, _ = build_frames(
            mix, warmup, first_seq=FIRST_SEQ, number_base=args.number_base + args.count,
            suppressed_base=args.suppressed_base + args.count, slot_offset=i, stride=n_binds,
            number_pool=args.number_pool,
        )  # fmt: skip
        mbuf, _, suppressed = build_frames(
            mix, count, first_seq=FIRST_SEQ + warmup, number_base=args.number_base,
            suppressed_base=args.suppressed_base, slot_offset=i, stride=n_binds,
            number_pool=args.number_pool,
        )  # fmt: skip
        sock = _connect(args.host, args.port, system_id, password, args.timeout)
        binds.append(_Bind(i, sock, wbuf + mbuf, frame_len, warmup, count, suppressed))
    try:
        if args.warmup:
            _run_phase(binds, args.window, 0.0, False, args.timeout)
        if handshake is not None:
            handshake("READY")
        cpu0 = time.process_time()
        started = _run_phase(binds, args.window, float(args.rate or 0), True, args.timeout)
        finished = time.perf_counter()
        cpu = time.process_time() - cpu0
        if handshake is not None:
            print("DONE", flush=True)
    finally:
        _unbind(binds)
    if args.dump_latencies:
        # (due or send time relative to the start, latency) in ms per measured message, by bind.
        with open(args.dump_latencies, "w") as out:
            out.write("bind,sent_ms,latency_ms\n")
            for b in binds:
                for m, value in enumerate(b.lat):
                    sent = b.sent_at[b.warmup + m] - started
                    out.write(f"{b.index},{sent * 1e3:.3f},{value * 1e3:.3f}\n")
    lat = sorted(x for b in binds for x in b.lat if x >= 0)
    lag = sorted(x for b in binds for x in b.lag)
    statuses: Counter[int] = Counter()
    for b in binds:
        statuses.update(b.statuses)
    elapsed = finished - started
    count = sum(b.count for b in binds)
    expected_refused = sum(b.suppressed for b in binds)
    refused = statuses.get(_OPTED_OUT, 0)
    errors = sum(n for status, n in statuses.items() if status != _OPTED_OUT)
    ms = 1e3
    return {
        "mix": mix.name,
        "target": f"{args.host}:{args.port}",
        "count": count,
        "binds": n_binds,
        "window": args.window,
        "rate": args.rate or 0,
        "elapsed_s": round(elapsed, 4),
        "throughput": round(count / elapsed, 1) if elapsed > 0 else 0.0,
        "latency_ms": {
            "p50": round(percentile(lat, 0.50) * ms, 3),
            "p90": round(percentile(lat, 0.90) * ms, 3),
            "p99": round(percentile(lat, 0.99) * ms, 3),
            "p999": round(percentile(lat, 0.999) * ms, 3),
            "max": round((lat[-1] if lat else 0.0) * ms, 3),
            "mean": round(sum(lat) / len(lat) * ms, 3) if lat else 0.0,
        },
        "schedule_lag_ms": (
            {"p99": round(percentile(lag, 0.99) * ms, 3), "max": round((lag[-1] if lag else 0.0) * ms, 3)}
            if args.rate
            else None
        ),
        "ok": count - sum(statuses.values()),
        "refused_opted_out": refused,
        "expected_refused_if_proxied": expected_refused,
        "errors": errors,
        "statuses": {f"0x{status:08x}": n for status, n in sorted(statuses.items())},
        "unexpected_pdus": sum(b.unexpected for b in binds),
        "loadgen_cpu_s": round(cpu, 4),
    }


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m tools.loadgen", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--mix", default="marketing", choices=sorted(MIXES))
    parser.add_argument("--count", type=int, default=50_000, help="measured submit_sm (default 50,000)")
    parser.add_argument("--warmup", type=int, default=2_000, help="unmeasured submit_sm sent first")
    parser.add_argument("--window", type=int, default=64, help="submits in flight per bind (default 64)")
    parser.add_argument("--binds", type=int, default=1, help="transceiver binds sharing the load")
    parser.add_argument("--rate", type=float, default=0, help="send at this many msg/s (default: max)")
    parser.add_argument("--number-base", type=int, default=0, help="first fresh destination number")
    parser.add_argument("--number-pool", type=int, default=0, help="cycle through this many numbers")
    parser.add_argument("--suppressed-base", type=int, default=0, help="first suppressed-pool number")
    parser.add_argument("--system-id", default="", help="bind as this account instead of the mix's")
    parser.add_argument("--password", default="")
    parser.add_argument("--timeout", type=float, default=60.0, help="give up after this long idle (s)")
    parser.add_argument("--dump-latencies", default="", help="write per-message latencies (CSV) here")
    parser.add_argument("--wait-go", action="store_true", help="print READY, wait for a stdin line, run")
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)

    def handshake(word: str) -> None:
        print(word, flush=True)
        if not sys.stdin.readline():
            raise LoadError("stdin closed before GO")

    try:
        result = run(args, handshake if args.wait_go else None)
    except (LoadError, OSError) as exc:
        print(f"RESULT {json.dumps({'error': str(exc)})}" if args.wait_go else f"loadgen: {exc}", flush=True)
        return 1
    if args.wait_go:
        print(f"RESULT {json.dumps(result)}", flush=True)
    elif args.json:
        print(json.dumps(result))
    else:
        lat = result["latency_ms"]
        print(
            f"{result['count']:,} x {result['mix']} to {result['target']}:"
            f" {result['throughput']:,.0f} msg/s, latency p50 {lat['p50']:.2f} ms p99 {lat['p99']:.2f} ms,"
            f" refused {result['refused_opted_out']}, errors {result['errors']},"
            f" loadgen CPU {result['loadgen_cpu_s']:.2f} s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
