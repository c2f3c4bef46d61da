"""The differences in SQL spelling that the shared statements (:mod:`.queries`) are written against."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Dialect:
    """How a backend's driver spells a parameter, and a match against a list of values."""

    #: The placeholder of one positional parameter: ``?`` (sqlite3) or ``%s`` (psycopg).
    param: str
    #: True when the driver passes a list as one array parameter (``= ANY(%s)``); else ``IN (?, ?)``.
    arrays: bool = False

    def params(self, n: int) -> str:
        """``n`` comma-separated placeholders."""
        return ", ".join([self.param] * n)

    def any_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """A clause matching ``column`` against any of ``values`` (not empty), and its parameters."""
        if self.arrays:
            return f"{column} = ANY({self.param})", [list(values)]
        return f"{column} IN ({self.params(len(values))})", list(values)


SQLITE = Dialect(param="?")
POSTGRES = Dialect(param="%s", arrays=True)
