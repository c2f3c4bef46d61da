"""Where the proxy's CPU went: a summary of py-spy's collapsed stacks (``--format raw``)."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any, Final

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
        "count_sent (", "Audit.flush (", "record_last_campaigns (", "add_sent_counts (",
        "append_events (", "_connection_worker_thread (",
    )),
    ("footer: read text, append, re-encode, splice", (
        "footer_parts (", "read_text (", "text_parts (", "with_message (", "append_footer (",
    )),
    ("split: task per message, awaited part requests", ("SplitSender.", "Link.request (", "_deferred (")),
    ("SMPP framing + decode", ("Connection.next_event (", "FrameBuffer.", "decode (")),
    ("SMPP encode + sequence rewrite", ("send_request (", "send_response (", "with_sequence (", "encode")),
    ("socket writes (writer task)", ("_SelectorSocketTransport.write (", "Link._writer (", "Link.flush (")),
    ("session + policy glue", (
        "Link._dispatch (", "EsmeSession.", "OptoutPolicy.on_submit (", "MtPolicy.on_submit (",
        "MtPolicy._block (", "account_for (", "Link.send_nowait (", "Link.respond (", "Link._reader (",
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
