"""Throw-away PostgreSQL databases for tests: ``CREATE DATABASE stopgate_test_<random>``, dropped after.

The server is the machine's (127.0.0.1:5432, user postgres, trust auth; override with
``STOPGATE_TEST_PG``). A missing server fails the test, never skips it: in CI (.ci/run starts it)
that is a broken setup; on a developer machine the message says how to start one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest

ADMIN_URL = os.environ.get("STOPGATE_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
_HOW_TO = (
    "start PostgreSQL on 127.0.0.1:5432 with trust auth for user postgres (Debian: "
    "`apt-get install postgresql && pg_ctlcluster 15 main start`), or point STOPGATE_TEST_PG at a "
    "server whose user may CREATE DATABASE"
)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        where = "CI: .ci/run should have started it" if os.environ.get("CI") else _HOW_TO
        pytest.fail(f"PostgreSQL unreachable at {ADMIN_URL} ({exc}); {where}", pytrace=False)


def url_of(name: str) -> str:
    """The URL of database ``name`` on the test server."""
    parts = urlsplit(ADMIN_URL)
    return urlunsplit(parts._replace(path=f"/{name}"))


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """A new empty database's URL, dropped (connections and all) on exit."""
    name = f"stopgate_test_{secrets.token_hex(6)}"
    with _admin() as admin:
        admin.execute(f'CREATE DATABASE "{name}"'.encode())
    try:
        yield url_of(name)
    finally:
        with _admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def pg_url() -> Iterator[str]:
    with fresh_database() as url:
        yield url
