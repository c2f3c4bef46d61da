"""The differences in SQL spelling that the shared statements (:mod:`.queries`) are written against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a backend spells a parameter, a match against a list of values, the larger of two values and
    an index hint."""

    #: The placeholder of one positional parameter: ``?`` (sqlite3) or ``%s`` (psycopg).
    param: str
    #: The larger of two values: SQLite's two-argument ``max``, PostgreSQL's ``greatest``.
    greatest: str
    #: True when a query may name the index it reads (SQLite's ``INDEXED BY``; PostgreSQL has no hints).
    hints: bool = False
    #: True when the driver passes a list as one array parameter (``= ANY(%s)``); else ``IN (?, ?)``.
    arrays: bool = False

    def params(self, n: int) -> str:
        """``n`` comma-separated placeholders."""
        return ", ".join([self.param] * n)

    def indexed_by(self, index: str) -> str:
        """`` INDEXED BY index`` where the backend takes index hints, else nothing."""
        return f" INDEXED BY {index}" if self.hints else ""

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A clause matching ``column`` against any of ``values`` (not empty), and its parameters."""
        if self.arrays:
            return f"{column} = ANY({self.param})", [list(values)]
        return f"{column} IN ({self.params(len(values))})", list(values)


SQLITE = Dialect(param="?", greatest="max", hints=True)
POSTGRES = Dialect(param="%s", greatest="greatest", arrays=True)
