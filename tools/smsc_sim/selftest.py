"""The simulator's throughput self-test (``python -m tools.smsc_sim --selftest``): a simulator process
on one core, pipelined submit_sm over one transceiver bind from a blocking socket."""

from __future__ import annotations

import argparse
import socket
import subprocess
import sys
import time

from gateway.smpp.codec import decode, encode, parse_header
from gateway.smpp.constants import CommandId, CommandStatus
from gateway.smpp.framing import FrameBuffer
from gateway.smpp.pdu import BindTransceiver, SubmitSm, make_response
from gateway.smpp.splice import with_sequence
from tools.bench.procfs import cpu_seconds
from tools.ports import free_port, wait_port_blocking

__all__ = ["run_selftest", "selftest"]

C = CommandId
S = CommandStatus


def selftest(host: str, port: int, count: int = 50_000, window: int = 64) -> float:
    """Pipeline ``count`` submit_sm over one transceiver bind with ``window`` in flight, using a
    blocking socket and the gateway codec; returns submits answered per second."""
    sock = socket.create_connection((host, port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    frames = FrameBuffer()

    def read_frames() -> list[bytes]:
        data = sock.recv(1 << 20)
        if not data:
            raise ConnectionError("simulator closed the connection")
        frames.feed(data)
        return frames.frames()

    sock.sendall(encode(BindTransceiver(sequence_number=1, system_id="bench", password="bench")))
    while not (got := read_frames()):
        pass
    if parse_header(got[0])[2] != S.ESME_ROK:
        raise RuntimeError(f"bind refused: 0x{parse_header(got[0])[2]:08x}")
    template = encode(
        SubmitSm(
            source_addr_ton=5,
            source_addr="Stopgate",
            dest_addr_ton=1,
            dest_addr_npi=1,
            destination_addr="447700900123",
            short_message=b"Your code is 123456. Reply STOP to opt out",
        )
    )
    sent = answered = errors = 0
    started = time.perf_counter()
    while answered < count:
        burst = min(window - (sent - answered), count - sent)
        if burst > 0:
            sock.sendall(b"".join(with_sequence(template, sent + i + 2) for i in range(burst)))
            sent += burst
        for frame in read_frames():
            _, command_id, status, _ = parse_header(frame)
            if command_id == C.SUBMIT_SM_RESP:
                answered += 1
                errors += status != S.ESME_ROK
            elif command_id == C.ENQUIRE_LINK:
                sock.sendall(encode(make_response(decode(frame))))
    elapsed = time.perf_counter() - started
    sock.close()
    if errors:
        print(f"{errors} submits answered with an error status", file=sys.stderr)
    return count / elapsed


def run_selftest(args: argparse.Namespace) -> int:
    """Start a simulator process (one core), run :func:`selftest` against it, print the rate."""
    port = free_port()
    cmd = [sys.executable, "-m", "tools.smsc_sim", "--port", str(port), "--log-level", "warning"]
    if args.uvloop:
        cmd.append("--uvloop")
    server = subprocess.Popen(cmd)
    try:
        try:
            wait_port_blocking(port, 10, lambda: server.poll() is None)
        except TimeoutError:
            print("simulator did not start", file=sys.stderr)
            return 1
        rates = []
        for _ in range(args.rounds):
            cpu_before = cpu_seconds(server.pid)
            rate = selftest("127.0.0.1", port, args.count, args.window)
            cpu = cpu_seconds(server.pid) - cpu_before
            per_cpu = ""
            if cpu > 0:
                per_cpu = f", simulator CPU {cpu:.2f} s = {args.count / cpu:,.0f} msg per CPU-second"
            print(f"{args.count} submit_sm, window {args.window}: {rate:,.0f} msg/s{per_cpu}")
            rates.append(rate)
    finally:
        server.terminate()
        server.wait(5)
    print(f"best: {max(rates):,.0f} msg/s")
    return 0
