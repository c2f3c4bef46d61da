"""One ``/metrics`` for every worker of ``stopgate run --workers N``.

Each worker keeps its own registry and exports it with a ``worker`` label. Workers 1..N-1 answer on a
Unix socket in the directory the supervisor made for this run (``STOPGATE_WORKER_DIR``, created fresh
and removed when the supervisor stops); worker 0, which serves the admin API, reads them at scrape
time and merges the families into one exposition, with ``stopgate_worker_up{worker}`` saying whose
figures are in it. Sum over ``worker`` in PromQL for the machine's totals.

Why not prometheus_client's multiprocess mode: the hot-path counters are plain dict increments exposed
by custom collectors (see :mod:`gateway.metrics`), which that mode cannot aggregate (it only sees
instruments writing to its mmap files), and moving them there would cost every relayed message a
file-backed write; callback gauges (``set_function``) and the process collector do not work in it
either. A label also shows an uneven spread of connections, which a sum would hide.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import anyio
import anyio.abc
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

#: Set by the supervisor: the directory of the workers' metrics sockets.
WORKER_DIR_ENV = "STOPGATE_WORKER_DIR"
#: How long worker 0 waits for a sibling's figures before leaving them out of a scrape.
READ_TIMEOUT = 2.0
MAX_BYTES = 64 * 1024 * 1024


def worker_dir() -> Path | None:
    value = os.environ.get(WORKER_DIR_ENV)
    return Path(value) if value else None


def socket_path(directory: Path, worker: int) -> Path:
    return directory / f"metrics-{worker}.sock"


def labelled(families: Iterable[Metric], worker: int) -> Iterator[Metric]:
    """``families`` with ``worker="<worker>"`` added to every sample."""
    value = str(worker)
    for family in families:
        copy = Metric(family.name, family.documentation, family.type, family.unit)
        copy.samples = [
            Sample(s.name, {**s.labels, "worker": value}, s.value, s.timestamp, s.exemplar)
            for s in family.samples
        ]
        yield copy


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def merged(parts: Iterable[Iterable[Metric]]) -> bytes:
    """One exposition of several workers' (labelled) families: each family once, samples joined."""
    by_name: dict[str, Metric] = {}
    for families in parts:
        for family in families:
            known = by_name.get(family.name)
            if known is None:
                by_name[family.name] = family
            else:
                known.samples.extend(family.samples)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(list(by_name.values())))
    return generate_latest(registry)


def exposition(registry: CollectorRegistry, worker: int) -> bytes:
    """One worker's figures in the text format, labelled."""
    return merged([labelled(registry.collect(), worker)])


def parsed(body: bytes) -> list[Metric]:
    """Families read back from the text format (a counter's ``_created`` becomes a family of its
    own there, so every worker's figures go through it, worker 0's too, to merge alike)."""
    return list(text_string_to_metric_families(body.decode("utf-8")))


async def serve_worker_metrics(
    registry: CollectorRegistry,
    directory: Path,
    worker: int,
    *,
    task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
) -> None:
    """Answer each connection on this worker's socket with its labelled exposition, until cancelled."""
    path = socket_path(directory, worker)
    listener = await anyio.create_unix_listener(path)  # a dead predecessor's socket is replaced

    async def answer(stream: anyio.abc.SocketStream) -> None:
        async with stream:
            body = exposition(registry, worker)
            with contextlib.suppress(anyio.BrokenResourceError, anyio.ClosedResourceError):
                await stream.send(body)

    async with listener:
        task_status.started()
        try:
            await listener.serve(answer)
        finally:
            path.unlink(missing_ok=True)


async def _read_sibling(directory: Path, worker: int) -> list[Metric] | None:
    """A sibling's families, or None when it does not answer in time (dead, restarting, busy)."""
    chunks: list[bytes] = []
    try:
        with anyio.fail_after(READ_TIMEOUT):
            async with await anyio.connect_unix(socket_path(directory, worker)) as stream:
                size = 0
                async for chunk in stream:
                    chunks.append(chunk)
                    size += len(chunk)
                    if size > MAX_BYTES:
                        return None
    except (OSError, TimeoutError, anyio.BrokenResourceError):
        return None
    try:
        return parsed(b"".join(chunks))
    except ValueError:
        return None


async def scrape_all(registry: CollectorRegistry, directory: Path, workers: int) -> bytes:
    """Worker 0's ``/metrics``: its own figures and every sibling's that answered, merged."""
    parts: list[list[Metric]] = [parsed(exposition(registry, 0))]
    up = GaugeMetricFamily(
        "stopgate_worker_up",
        "1 when this worker's figures are in the scrape (0: dead, restarting or not answering)",
        labels=["worker"],
    )
    up.add_metric(["0"], 1)
    results: dict[int, list[Metric] | None] = {}

    async def read(worker: int) -> None:
        results[worker] = await _read_sibling(directory, worker)

    async with anyio.create_task_group() as tg:
        for worker in range(1, workers):
            tg.start_soon(read, worker)
    for worker in range(1, workers):
        families = results.get(worker)
        up.add_metric([str(worker)], 0 if families is None else 1)
        if families is not None:
            parts.append(families)
    parts.append([up])
    return merged(parts)
