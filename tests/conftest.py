"""Shared fixtures: anyio on asyncio, and an in-process stack (simulated SMSC + Stopgate)."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
