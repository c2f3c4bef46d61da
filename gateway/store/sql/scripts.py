"""A SQL backend's numbered migration scripts (``migrations/0001_name.sql``, ...), found in order."""

from __future__ import annotations

import re
from importlib import resources

_MIGRATION_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


def numbered_scripts(package: str) -> list[tuple[int, str]]:
    """(version, sql) of every file in ``package``'s ``migrations/``, in order; versions must be 1, 2, 3..."""
    found: list[tuple[int, str]] = []
    for entry in resources.files(package).joinpath("migrations").iterdir():
        match = _MIGRATION_NAME.fullmatch(entry.name)
        if match:
            found.append((int(match.group(1)), entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [version for version, _ in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"store migrations must be numbered 0001, 0002, ...; found {versions}")
    return found
