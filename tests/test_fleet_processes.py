"""Three real `stopgate run` processes on one PostgreSQL database (issue 15): a STOP acknowledged by
A is refused as a marketing destination by B and C within 1 s (tools/bench_fleet.py measures it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.pgdb import pg_url
from tools.bench_fleet import fleet, measure, summary

pytestmark = pytest.mark.anyio
__all__ = ["pg_url"]  # the fixture, imported for pytest


async def test_a_stop_through_a_is_refused_by_b_and_c_within_a_second(tmp_path: Path, pg_url: str) -> None:
    async with fleet(tmp_path, pg_url) as members:
        result = await measure(members, 30, limit=1.0)  # fails unless refused within 1 s
    assert len(result["propagation"]) == 60
    print(f"\npropagation A -> B, C: {summary(result['propagation'])}")
