"""Is a new opt-out refused at once? A small blocking ESME through the proxy, and the check that
sends STOP through the simulator's control port between two submits."""

from __future__ import annotations

import contextlib
import json
import select
import socket
import time
from typing import Any

from gateway.smpp.codec import encode_fields
from gateway.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus
from gateway.smpp.pdu import SubmitSm
from tools.bench.mixes import HEADER, MARKETING_ACCOUNT, SEQ, bind_frame


class BlockingEsme:
    """Just enough of an ESME for one-off checks: bind, submit, answer deliver_sm, unbind."""

    def __init__(self, port: int, system_id: str, password: str, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.seq = 1
        self.delivered: list[bytes] = []
        self.sock.sendall(bind_frame(system_id, password, 1))
        status = HEADER.unpack_from(self.read_frame())[2]
        if status != 0:
            raise RuntimeError(f"bind refused: 0x{status:08x}")

    def read_frame(self) -> bytes:
        while True:
            if len(self.buf) >= 16:
                (length,) = SEQ.unpack_from(self.buf, 0)
                if len(self.buf) >= length:
                    frame = bytes(self.buf[:length])
                    del self.buf[:length]
                    return frame
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionError("connection closed")
            self.buf += data

    def pump(self) -> None:
        """Answer whatever requests are waiting (deliver_sm, enquire_link); keep deliver_sm frames."""
        while True:
            if len(self.buf) < 16 or len(self.buf) < SEQ.unpack_from(self.buf, 0)[0]:
                readable, _, _ = select.select([self.sock], [], [], 0)
                if not readable:
                    return
                data = self.sock.recv(65536)
                if not data:
                    raise ConnectionError("connection closed")
                self.buf += data
                continue
            self._answer(self.read_frame())

    def _answer(self, frame: bytes) -> int:
        _, cid, _, seq = HEADER.unpack_from(frame)
        if cid == CommandId.DELIVER_SM:
            self.delivered.append(frame)
            self.sock.sendall(HEADER.pack(17, CommandId.DELIVER_SM_RESP, 0, seq) + b"\x00")
        elif cid == CommandId.ENQUIRE_LINK:
            self.sock.sendall(HEADER.pack(16, CommandId.ENQUIRE_LINK_RESP, 0, seq))
        return int(cid)

    def submit(self, destination: str, text: str = "Hello from the benchmark") -> int:
        """Send one submit_sm; returns the command_status of its response."""
        self.seq += 1
        pdu = SubmitSm(
            source_addr_ton=5, source_addr="Acme", dest_addr_ton=1, dest_addr_npi=1,
            destination_addr=destination, short_message=text.encode("ascii"),
        )  # fmt: skip
        self.sock.sendall(encode_fields(pdu, self.seq))
        while True:
            frame = self.read_frame()
            _, cid, status, seq = HEADER.unpack_from(frame)
            if cid == CommandId.SUBMIT_SM_RESP and seq == self.seq:
                return int(status)
            if cid & RESPONSE_BIT == 0:
                self._answer(frame)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.seq += 1
            self.sock.sendall(HEADER.pack(16, CommandId.UNBIND, 0, self.seq))
            self.sock.settimeout(2.0)
            with contextlib.suppress(OSError, ConnectionError):
                while HEADER.unpack_from(self.read_frame())[1] != CommandId.UNBIND_RESP:
                    pass
        self.sock.close()


def optout_visibility(proxy_port: int, control_port: int, number: str) -> dict[str, Any]:
    """Is an opt-out that just arrived as an MO "STOP" refused on the very next submit?

    An ESME bound (transceiver) through the proxy first submits to ``number`` (expected: accepted), then
    the simulator delivers "STOP" from ``number`` over that session's upstream bind, via its control
    port. As soon as the simulator has the deliver_sm_resp (the proxy answers only after the opt-out is
    committed and in its index), the ESME submits to ``number`` again: it must be refused.
    """
    esme = BlockingEsme(proxy_port, *MARKETING_ACCOUNT)
    try:
        before = esme.submit(number)
        ctl = socket.create_connection(("127.0.0.1", control_port), timeout=10)
        command = {
            "cmd": "deliver", "source_addr": number, "destination_addr": "88088", "text": "STOP",
            "source_addr_ton": 1, "source_addr_npi": 1, "system_id": "proxy", "timeout": 10,
        }  # fmt: skip
        started = time.perf_counter()
        ctl.sendall(json.dumps(command).encode() + b"\n")
        reply = b""
        deadline = time.monotonic() + 15
        while not reply.endswith(b"\n"):
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from the simulator's control port")
            readable, _, _ = select.select([ctl, esme.sock], [], [], 0.5)
            if esme.sock in readable or len(esme.buf) >= 16:
                esme.pump()
            if ctl in readable:
                chunk = ctl.recv(65536)
                if not chunk:
                    break
                reply += chunk
        acked = time.perf_counter()
        ctl.close()
        answer = json.loads(reply) if reply else {}
        after = esme.submit(number)
        refused = time.perf_counter()
        return {
            "number": "+" + number,
            "status_before": before,
            "stop_deliver_status": answer.get("status"),
            "stop_forwarded_to_esme": len(esme.delivered),
            "status_after": after,
            "refused_at_once": before == 0 and after == CommandStatus.ESME_RSUBMITFAIL,
            "stop_ack_ms": round((acked - started) * 1e3, 2),
            "stop_to_refusal_ms": round((refused - started) * 1e3, 2),
        }
    finally:
        esme.close()
