"""Shared pieces of the throughput benchmark (:mod:`tools.bench` and :mod:`tools.loadgen`).

* the message mixes, and the pre-encoded submit_sm frames the load generator sends for them;
* the destination numbers: fresh ones (never suppressed) and a pool that is suppressed in every store;
* building (and caching under /tmp) SQLite stores with N suppressed numbers, straight from the schema
  in ``gateway/store/migrations``;
* the stopgate config file, and Linux ``/proc`` accounting of a process (CPU time, RSS);
* a small blocking SMPP client for the "is a new opt-out visible at once" check;
* a summary of py-spy's collapsed stacks (``--format raw``).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import shutil
import socket
import sqlite3
import struct
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from gateway.smpp.codec import encode_fields
from gateway.smpp.constants import RESPONSE_BIT, CommandId, CommandStatus, DataCoding
from gateway.smpp.pdu import BindTransceiver, SubmitSm
from gateway.store.sqlite import migrations, split_sql
from gateway.text.encoding import encode_text
from tools.config_toml import simulator_upstream, to_toml

HEADER: Final = struct.Struct(">IIII")
SEQ: Final = struct.Struct(">I")

#: The scope every benchmark account uses, and the footer of the marketing account.
SCOPE: Final = "acme"
FOOTER: Final = "Reply STOP to opt out"
#: (system_id, password) of the two accounts in the benchmark config.
MARKETING_ACCOUNT: Final = ("acme", "acmepw")
TRANSACTIONAL_ACCOUNT: Final = ("bulk", "bulkpw")

#: Destination numbers are 12 digits with TON 1 (international): "4478" + 8 digits for fresh numbers,
#: "4471" + 8 digits for stored (suppressed) ones. Both are possible UK mobile numbers.
FRESH_PREFIX: Final = "4478"
STORED_PREFIX: Final = "4471"
NUMBER_SPACE: Final = 10**8
#: The first POOL numbers of the stored range are suppressed in every store the benchmark builds,
#: including the "empty" one; the "suppressed" mix addresses its share to them.
SUPPRESSED_POOL: Final = 20_000
#: Bump when the layout of built stores changes (invalidates the cache).
STORE_FORMAT: Final = 1

#: The first sequence number of the submits (1 is the bind).
FIRST_SEQ: Final = 2


@dataclass(frozen=True, slots=True)
class Mix:
    """One kind of traffic: what is sent, by which account, and what the proxy does with it."""

    name: str
    account: tuple[str, str]
    text: str
    data_coding: int
    #: Fraction of messages addressed to suppressed numbers (refused by the proxy).
    suppressed_share: float = 0.0
    #: What the proxy does with each message.
    proxy_does: str = ""
    #: The body carries the destination's 12 digits in place of ``PERSONAL_MARK``: every body differs.
    personal: bool = False


#: Where a personalised body carries its destination's digits.
PERSONAL_MARK: Final = "#" * 12
_SALE = "Flash sale at Acme: 20% off everything this weekend with code SAVE20. Shop at acme.example/sale"
MIXES: Final[dict[str, Mix]] = {
    mix.name: mix
    for mix in (
        Mix("marketing", MARKETING_ACCOUNT, _SALE, DataCoding.SMSC_DEFAULT, 0.0,
            "check + footer appended (1 segment, frame spliced)"),
        Mix("personal", MARKETING_ACCOUNT,
            f"Acme: 20% off everything this weekend for {PERSONAL_MARK}, code SAVE20. Shop at acme.example",
            DataCoding.SMSC_DEFAULT, 0.0, "as marketing, every body different (no repeated campaign text)",
            personal=True),
        Mix("footered", MARKETING_ACCOUNT, f"{_SALE} {FOOTER}", DataCoding.SMSC_DEFAULT, 0.0,
            "check; footer already there: original bytes forwarded"),
        Mix("long", MARKETING_ACCOUNT,
            "Acme weekend sale: 20% off all shoes, bags and accessories, 30% off outerwear, free delivery "
            "on orders over 40 GBP. Code SAVE20 at acme.example/sale",
            DataCoding.SMSC_DEFAULT, 0.0, "check + footer -> 2 concatenated parts, sent one after the other"),
        Mix("ucs2", MARKETING_ACCOUNT, "Скидка 20% в Acme до воскресенья! Код SAVE20", DataCoding.UCS2, 0.0,
            "check + footer in UCS2 (1 segment)"),
        Mix("transactional", TRANSACTIONAL_ACCOUNT,
            "Your Acme verification code is 482913. It expires in 10 minutes.",
            DataCoding.SMSC_DEFAULT, 0.0, "transactional account: no check, no footer"),
        Mix("suppressed", MARKETING_ACCOUNT, _SALE, DataCoding.SMSC_DEFAULT, 0.10,
            "as marketing, 10% addressed to suppressed numbers (refused 0x400)"),
    )
}  # fmt: skip
DEFAULT_MIXES: Final = tuple(MIXES)


# --- destination numbers and frames ----------------------------------------------------------------


def fresh_number(i: int) -> str:
    """The i-th never-suppressed destination (12 digits, no "+": TON 1 carries it)."""
    return f"{FRESH_PREFIX}{i % NUMBER_SPACE:08d}"


def stored_number(i: int) -> str:
    """The i-th number of the stored range (the store of size N holds 0..N-1, at least the pool)."""
    return f"{STORED_PREFIX}{i % NUMBER_SPACE:08d}"


def is_suppressed_slot(k: int, share: float) -> bool:
    """Whether message k of a run goes to a suppressed number (spread evenly, ``share`` of them)."""
    return share > 0 and int((k + 1) * share) > int(k * share)


def template_frame(mix: Mix) -> tuple[bytes, int]:
    """The mix's submit_sm frame (sequence 0) and the offset of its 12 destination digits."""
    pdu = SubmitSm(
        source_addr_ton=5,
        source_addr_npi=0,
        source_addr="Acme",
        dest_addr_ton=1,
        dest_addr_npi=1,
        destination_addr=fresh_number(0),
        data_coding=mix.data_coding,
        short_message=encode_text(mix.text, mix.data_coding),
    )
    frame = encode_fields(pdu, 0)
    offset = frame.index(fresh_number(0).encode("ascii") + b"\x00")
    return frame, offset


def build_frames(
    mix: Mix,
    count: int,
    *,
    first_seq: int,
    number_base: int,
    suppressed_base: int,
    slot_offset: int = 0,
    stride: int = 1,
    number_pool: int = 0,
) -> tuple[bytearray, int, int]:
    """``count`` frames of ``mix`` back to back, for one bind: (buffer, frame length, suppressed count).

    Frame k carries sequence ``first_seq + k`` and the destination of global message
    ``slot_offset + k * stride`` (binds take every ``stride``-th message). Only the 4 sequence octets and
    the 12 destination digits differ from the template encoded once with the gateway codec. Fresh
    destinations are all different unless ``number_pool`` is set: then they cycle through that many.
    A personal mix also writes the destination's digits over the body's ``PERSONAL_MARK``.
    """
    frame, at = template_frame(mix)
    mark_at = frame.index(PERSONAL_MARK.encode("ascii")) if mix.personal else -1
    length = len(frame)
    buf = bytearray(frame * count)
    pack_seq = SEQ.pack_into
    share = mix.suppressed_share
    suppressed = 0
    for k in range(count):
        pos = k * length
        pack_seq(buf, pos + 12, first_seq + k)
        slot = slot_offset + k * stride
        if is_suppressed_slot(slot, share):
            number = stored_number((suppressed_base + slot) % SUPPRESSED_POOL)
            suppressed += 1
        else:
            number = fresh_number((number_base + slot) % number_pool if number_pool else number_base + slot)
        digits = number.encode("ascii")
        buf[pos + at : pos + at + 12] = digits
        if mark_at >= 0:
            buf[pos + mark_at : pos + mark_at + 12] = digits
    return buf, length, suppressed


def bind_frame(system_id: str, password: str, sequence_number: int = 1) -> bytes:
    return encode_fields(BindTransceiver(system_id=system_id, password=password), sequence_number)


# --- statistics ------------------------------------------------------------------------------------


def percentile(ordered: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples (0.0 when there are none)."""
    if not ordered:
        return 0.0
    return float(ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))])


def median(values: Iterable[float]) -> float:
    ordered = sorted(values)
    if not ordered:
        return 0.0
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


# --- /proc accounting ----------------------------------------------------------------------------

CLK_TCK: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads included (Linux /proc; 0.0 elsewhere)."""
    return cpu_seconds_of(f"/proc/{pid}/stat")


def cpu_seconds_of(stat_path: str) -> float:
    """utime + stime from a /proc ``stat`` file (a process's or one thread's); 0.0 if unreadable."""
    try:
        with open(stat_path) as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def main_thread_cpu_seconds(pid: int) -> float:
    """utime + stime of a process's main thread alone (the event loop; other threads are the
    store's writer and workers); 0.0 where /proc is unavailable."""
    return cpu_seconds_of(f"/proc/{pid}/task/{pid}/stat")


def io_counts(pid: int) -> dict[str, int]:
    """Read and write system calls (``/proc/<pid>/io`` counts read() and write(), not recv(), send()
    or epoll_wait()) and the main thread's context switches, voluntary (it waited) and not (it was
    preempted); empty where /proc is unavailable."""
    out: dict[str, int] = {}
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("syscr", "syscw"):
                    out[key] = int(value)
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key == "voluntary_ctxt_switches":
                    out["waits"] = int(value)
                elif key == "nonvoluntary_ctxt_switches":
                    out["preempted"] = int(value)
    return out


def memory_kib(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process in KiB (empty where /proc is unavailable)."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def wait_port(port: int, timeout: float = 15.0, alive: Any = None) -> None:
    """Wait until something accepts on 127.0.0.1:``port``; ``alive()`` False aborts early."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or (alive is not None and not alive()):
                raise TimeoutError(f"nothing listening on port {port}") from None
            time.sleep(0.02)


# --- stores --------------------------------------------------------------------------------------


def store_rows(size: int) -> int:
    """Rows a store of nominal ``size`` holds: ``size`` numbers, and never fewer than the pool."""
    return max(size, SUPPRESSED_POOL)


def build_store(path: Path, rows: int) -> float:
    """Create a store holding ``rows`` suppressed numbers (stored_number(0..rows-1), scope "acme") with
    one IMPORT event each, as ``import_suppressions`` would leave it; returns seconds taken.

    The schema comes from the store's own migrations; rows are generated inside SQLite (a recursive
    CTE), in key order, with journaling off, then the file is switched to WAL as the store expects.
    """
    started = time.perf_counter()
    path.unlink(missing_ok=True)
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MiB
        conn.execute("BEGIN")
        steps = migrations()
        for _, sql in steps:
            for statement in split_sql(sql):
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {steps[-1][0]}")
        ts = int(time.time() * 1e6)
        conn.execute(
            "WITH RECURSIVE seq(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM seq WHERE i + 1 < ?)"
            " INSERT INTO events (id, ts, type, scope, number, channel, account, reason, suppressed)"
            " SELECT i + 1, ?, 'import', ?, printf('+%s%08d', ?, i), 'import', NULL, 'bench', 1 FROM seq",
            (rows, ts, SCOPE, STORED_PREFIX),
        )
        conn.execute(
            "INSERT INTO suppressions (scope, number, since, channel, keyword, reason, event_id)"
            " SELECT scope, number, ts, channel, NULL, reason, id FROM events ORDER BY id"
        )
        conn.execute("COMMIT")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    os.chmod(path, 0o600)
    return time.perf_counter() - started


def cached_store(size: int, cache_dir: Path) -> tuple[Path, float | None]:
    """The cached store file for ``size`` (built on first use): (path, build seconds or None if cached)."""
    rows = store_rows(size)
    cache_dir.mkdir(parents=True, exist_ok=True)
    path = cache_dir / f"store-{rows}-v{STORE_FORMAT}.db"
    if path.exists():
        return path, None
    partial = path.with_name(path.name + ".building")
    took = build_store(partial, rows)
    partial.replace(path)
    return path, took


def copy_store(source: Path, target: Path) -> float:
    """Copy a cached store for one run (the proxy writes to it); returns seconds taken."""
    started = time.perf_counter()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(source, target)
    os.chmod(target, 0o600)
    return time.perf_counter() - started


# --- stopgate config -------------------------------------------------------------------------------


def write_config(
    directory: Path,
    *,
    smsc_port: int,
    listen_port: int,
    storage: Path,
    window: int,
    max_sessions: int,
    log_level: str = "info",
) -> Path:
    """A config with the marketing account "acme" and the transactional "bulk" (same scope)."""
    (acme, acme_pw), (bulk, bulk_pw) = MARKETING_ACCOUNT, TRANSACTIONAL_ACCOUNT
    accounts = [
        {"system_id": acme, "password": acme_pw, "traffic": "marketing", "footer": FOOTER},
        {"system_id": bulk, "password": bulk_pw, "traffic": "transactional"},
    ]
    text = to_toml(
        {
            "listen": {"host": "127.0.0.1", "port": listen_port},
            "storage": {"path": str(storage)},
            "numbers": {"default_country": "GB"},
            "logging": {"format": "json", "level": log_level},
            "session": {"window": window, "response_timeout": 10.0, "shutdown_grace": 2.0},
            "admin": {"enabled": False},
            "upstream": [simulator_upstream(smsc_port)],
            "account": [
                {**account, "upstream": "sim", "scope": SCOPE, "max_sessions": max_sessions}
                for account in accounts
            ],
        }
    )
    path = directory / "stopgate.toml"
    path.write_text(text)
    return path


# --- a minimal blocking ESME -----------------------------------------------------------------------


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
            "refused_at_once": before == 0 and after == CommandStatus.STOPGATE_OPTED_OUT,
            "stop_ack_ms": round((acked - started) * 1e3, 2),
            "stop_to_refusal_ms": round((refused - started) * 1e3, 2),
        }
    finally:
        esme.close()


# --- py-spy collapsed stacks ---------------------------------------------------------------------

_FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
#: A leaf frame whose source line calls one of these is a thread waiting (epoll, a lock, a queue),
#: which py-spy cannot tell from running while it has the process stopped to take a sample.
_WAITING_CALL = re.compile(r"\.(poll|select|get|wait|acquire|sleep|join)\(|\bsleep\(")


def _short_path(path: str) -> str:
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in path:
            return path.split(marker, 1)[1]
    for marker in ("/gateway/", "/tools/"):
        if marker in path:
            return marker.strip("/") + "/" + path.rsplit(marker, 1)[1]
    match = re.search(r"/lib/python3\.\d+/(.*)$", path)
    if match:
        return match.group(1)
    return path


def _parse_frame(frame: str) -> tuple[str, str, int]:
    match = _FRAME.match(frame)
    if not match:
        return frame, "", 0
    return match.group("func"), match.group("file"), int(match.group("line") or 0)


def _waiting(file: str, line: int) -> bool:
    import linecache

    return bool(line and _WAITING_CALL.search(linecache.getline(file, line)))


#: Where a busy sample's time goes: the innermost frame matching one of these (checked in this order
#: for each frame, walking from the leaf outwards) names its bucket.
BREAKDOWN_RULES: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("number normalisation (phonenumbers)", ("normalize_number (",)),
    ("suppression index lookup", ("SuppressionIndex.contains (",)),
    ("anyio clock / Event / cancel scopes", (
        "current_time (", "current_async_library (", "Event.__new__ (", "move_on_after (", "CancelScope",
    )),
    ("per-PDU metrics counts", ("Link._count_out (",)),
    ("sent counters + last campaigns (incl. SQLite thread)", (
        "_count_sent (", "OptoutPolicy.flush (", "record_last_campaigns (", "add_sent_counts (",
        "append_events (", "_connection_worker_thread (",
    )),
    ("footer: read text, append, re-encode, splice", (
        "footer_parts (", "read_text (", "text_parts (", "with_message (", "append_footer (",
    )),
    ("split: task per message, awaited part requests", ("_send_parts (", "Link.request (", "_deferred (")),
    ("SMPP framing + decode", ("Connection.next_event (", "FrameBuffer.", "decode (")),
    ("SMPP encode + sequence rewrite", ("send_request (", "send_response (", "with_sequence (", "encode")),
    ("socket writes (writer task)", ("_SelectorSocketTransport.write (", "Link._writer (", "Link.flush (")),
    ("session + policy glue", (
        "Link._dispatch (", "EsmeSession.", "OptoutPolicy.on_submit (", "OptoutPolicy._block (",
        "OptoutPolicy._account (", "Link.send_nowait (", "Link.respond (", "Link._reader (",
    )),
    ("event loop, socket reads, task switches", (
        "select (", "_read_ready", "BaseEventLoop.", "Handle._run (", "TaskHandle", "Task.",
    )),
)  # fmt: skip


def _bucket(names: list[str]) -> str:
    for name in reversed(names):
        for bucket, needles in BREAKDOWN_RULES:
            if any(needle in name for needle in needles):
                return bucket
    return "other"


def summarize_collapsed(path: Path, top: int = 30) -> dict[str, Any]:
    """Where the proxy's CPU went, from py-spy raw output (``frame;...;frame COUNT``, outermost first,
    recorded with ``--full-filenames``).

    Samples whose innermost frame is a thread waiting (epoll, a lock, a queue: see ``_WAITING_CALL``)
    are counted apart; the shares are of the remaining *busy* samples, by thread kind, by function
    (self and inclusive, each function counted once per stack) and by file.
    """
    self_counts: Counter[str] = Counter()
    incl_counts: Counter[str] = Counter()
    file_counts: Counter[str] = Counter()
    thread_counts: Counter[str] = Counter()
    buckets: Counter[str] = Counter()
    waiting = busy = 0
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        raw = [f for f in stack.split(";") if f and not f.startswith(("process ", "thread "))]
        if not raw:
            continue
        parsed = [_parse_frame(f) for f in raw]
        func, file, lineno = parsed[-1]
        if _waiting(file, lineno):
            waiting += count
            continue
        busy += count
        names = [f"{fn} ({_short_path(fl)})" if fl else fn for fn, fl, _ in parsed]
        root = parsed[0]
        if "runpy" in root[1] or root[0] == "<module>":
            kind = "event loop thread"
        elif any("aiosqlite" in fl for _, fl, _ in parsed):
            kind = "aiosqlite thread (SQLite work)"
        else:
            kind = "other threads"
        thread_counts[kind] += count
        buckets[_bucket(names)] += count
        self_counts[names[-1]] += count
        file_counts[_short_path(file) if file else func] += count
        for name in set(names):
            incl_counts[name] += count

    def share(counter: Counter[str], limit: int = top) -> list[tuple[str, float]]:
        return [(name, round(100.0 * n / busy, 1)) for name, n in counter.most_common(limit)] if busy else []

    def only_gateway(counter: Counter[str]) -> Counter[str]:
        return Counter({k: v for k, v in counter.items() if "(gateway/" in k})

    return {
        "samples": busy + waiting,
        "busy_samples": busy,
        "waiting_samples": waiting,
        "threads": share(thread_counts),
        "breakdown": share(buckets),
        "self": share(self_counts),
        "inclusive": share(incl_counts),
        "self_by_file": share(file_counts),
        "gateway_self": share(only_gateway(self_counts)),
        "gateway_inclusive": share(only_gateway(incl_counts)),
    }


def machine_cpu() -> tuple[float, float, float]:
    """(busy, total, steal) CPU seconds of the whole machine since boot, all cores (Linux
    /proc/stat). Steal is time the hypervisor gave this virtual machine's vCPUs to others: the
    machine running slower than it looks."""
    try:
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
    except (OSError, ValueError):
        return 0.0, 0.0, 0.0
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    total = sum(fields[:8])
    steal = fields[7] if len(fields) > 7 else 0
    return (total - idle) / CLK_TCK, total / CLK_TCK, steal / CLK_TCK


def wakeup_penalty(samples: int = 300) -> dict[str, float]:
    """How much slower the same Python work runs right after the process slept, on this machine.

    Decodes one submit_sm and appends the footer (about the policy's work for one message) back to
    back, then once after each sleep of 0.2, 1 and 5 ms; returns median microseconds per call. On a
    virtual machine whose idle vCPU loses its caches the gap is large, and a proxy at a steady
    moderate rate pays it on every message (so do the simulator and the load generator).
    """
    from gateway.policy.messages import footer_parts
    from gateway.smpp.codec import decode

    frame, _ = template_frame(MIXES["marketing"])

    def work() -> None:
        footer_parts(decode(frame), FOOTER, use_payload=False, reference=1)  # type: ignore[arg-type]

    for _ in range(2000):
        work()
    started = time.perf_counter()
    for _ in range(samples * 10):
        work()
    out = {"back_to_back_us": round((time.perf_counter() - started) / (samples * 10) * 1e6, 1)}
    for gap in (0.0002, 0.001, 0.005):
        taken = []
        for _ in range(samples):
            time.sleep(gap)
            t0 = time.perf_counter()
            work()
            taken.append(time.perf_counter() - t0)
        out[f"after_{gap * 1e3:g}ms_sleep_us"] = round(median(taken) * 1e6, 1)
    return out


def tree_digest(root: Path) -> str:
    """A short hash of every .py file under ``root`` (which gateway code a run measured)."""
    import hashlib

    digest = hashlib.sha256()
    for path in sorted(root.rglob("*.py")):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]
