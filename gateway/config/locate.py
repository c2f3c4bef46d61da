"""Where a key path (``account[1].keywords.help[1]``) is written in a TOML text: its line number.

``tomllib`` gives line numbers only for syntax errors, so validation errors are located here by reading
the table headers and ``key =`` lines (bare keys, the config's style). A key that is not written (a
required key missing) is located at its table's header; an unknown path gives None.
"""

from __future__ import annotations

import re

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-]+)\s*=")
_INDEX = re.compile(r"\[(\d+)\]")


def _normalise(key: str) -> str:
    """``account[1].keywords.help[1]`` -> ``account#1.keywords.help`` (an index inside a value dropped)."""
    key = _INDEX.sub(r"#\1", key)
    parts = key.split(".")
    parts[-1] = parts[-1].split("#")[0] if len(parts) > 1 or "#" not in parts[-1] else parts[-1]
    return ".".join(parts)


def key_lines(text: str) -> dict[str, int]:
    """Every table and key path written in ``text`` -> its (first) 1-based line number."""
    lines: dict[str, int] = {}
    counts: dict[str, int] = {}
    table: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        header = _HEADER.match(line)
        if header:
            names = [n.strip() for n in header.group(2).split(".")]
            if header.group(1) == "[[":
                array = ".".join(names)
                index = counts[array] = counts.get(array, -1) + 1
                names[-1] = f"{names[-1]}#{index}"
            # A sub-table of an array element ([account.keywords]) belongs to the latest element.
            resolved = []
            for depth, name in enumerate(names):
                if depth < len(table) and table[depth].split("#")[0] == name and "#" not in name:
                    resolved.append(table[depth])
                else:
                    resolved.append(name)
            table = resolved
            lines.setdefault(".".join(table), number)
            continue
        key = _KEY.match(line)
        if key:
            lines.setdefault(".".join([*table, key.group(1)]), number)
    return lines


def line_of(lines: dict[str, int], key: str) -> int | None:
    """The line of ``key`` (or of the nearest enclosing table written), from :func:`key_lines`."""
    parts = _normalise(key).split(".")
    while parts:
        found = lines.get(".".join(parts))
        if found is not None:
            return found
        parts.pop()
    return None
