"""How commands print: records as CSV or JSON lines, aligned text tables, short UTC times."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import IO, Any


def short_time(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%SZ")


class RecordWriter:
    """Rows as CSV (with a header) or JSON lines."""

    def __init__(self, out: IO[str], fmt: str, fields: Sequence[str]) -> None:
        self.out = out
        self.fmt = fmt
        self.fields = fields
        self._csv: Any = None
        if fmt == "csv":
            self._csv = csv.writer(out, lineterminator="\n")
            self._csv.writerow(fields)

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is None:
            self.out.write(json.dumps(record, ensure_ascii=False) + "\n")
            return
        row = []
        for name in self.fields:
            value = record.get(name)
            if isinstance(value, list):
                value = " ".join(value)
            row.append("" if value is None else value)
        self._csv.writerow(row)


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A text table: a header, a rule, left-aligned text and right-aligned numeric columns."""
    cells = [[str(h) for h in headers]] + [["-" if c is None else str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    numeric = [all(_is_number(row[i]) for row in cells[1:]) for i in range(len(headers))]
    lines = []
    for n, row in enumerate(cells):
        parts = [
            cell.rjust(widths[i]) if numeric[i] and n > 0 else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        lines.append("  ".join(parts).rstrip())
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _is_number(text: str) -> bool:
    return text.replace(".", "", 1).rstrip("%").isdigit() or text == "-"
