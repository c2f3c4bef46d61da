"""Shared fixtures: anyio on asyncio; hypothesis settings that hold on a loaded 2-core CI machine."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

# No per-example deadline: timing varies on shared machines and is not what these tests prove.
settings.register_profile("dev", deadline=None)
# CI: the same examples every run, so a red run is reproducible and a green one is not luck.
settings.register_profile(
    "ci", deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
