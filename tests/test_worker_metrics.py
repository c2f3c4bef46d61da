"""One /metrics for every worker (issue 15), in-process: each worker's figures labelled ``worker``,
merged family by family, and a worker that does not answer is shown as down rather than failing the
scrape (the real `stopgate run --workers 2` is in test_workers.py)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import anyio
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gateway.metrics import Metrics
from gateway.ops.worker_metrics import scrape_all, serve_worker_metrics

pytestmark = pytest.mark.anyio


@pytest.fixture
def directory() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="sg-workers-"))  # short: a Unix socket path has ~100 bytes
    yield path
    shutil.rmtree(path, ignore_errors=True)


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                out[tuple(sorted(sample.labels.items()))] = sample.value
    return out


async def test_the_scrape_merges_every_worker_and_shows_one_that_does_not_answer(directory: Path) -> None:
    first, second = Metrics(), Metrics()
    first.optouts.labels("acme", "sms").inc(2)
    second.optouts.labels("acme", "sms").inc(5)
    second.blocked["acme"] += 3  # a hot-path dict counter (custom collector)
    async with anyio.create_task_group() as tg:
        await tg.start(serve_worker_metrics, second.registry, directory, 1)
        text = (await scrape_all(first.registry, directory, 3)).decode()
        tg.cancel_scope.cancel()
    assert samples(text, "stopgate_optouts_total") == {
        (("channel", "sms"), ("scope", "acme"), ("worker", "0")): 2.0,
        (("channel", "sms"), ("scope", "acme"), ("worker", "1")): 5.0,
    }
    assert samples(text, "stopgate_blocked_messages_total") == {(("scope", "acme"), ("worker", "1")): 3.0}
    assert samples(text, "stopgate_worker_up") == {
        (("worker", "0"),): 1.0,
        (("worker", "1"),): 1.0,
        (("worker", "2"),): 0.0,  # no such worker answering: left out, said so
    }
    assert text.count("# TYPE stopgate_optouts_total counter") == 1
    assert not (directory / "metrics-1.sock").exists()  # removed when the worker stops
