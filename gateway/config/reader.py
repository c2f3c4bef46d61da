"""Typed reading of one TOML table, with the key path every error message starts with.

A :class:`Table` refuses unknown keys when it is built (suggesting the closest known one, so that a
typo is never silently ignored), and its getters (``integer``, ``seconds``, ``choice``, ...) return
the value or raise :class:`ConfigError` naming the full key (``account[1].footer_days: expected an
integer 1-36500, got 0``). The first error stops the load: one message to fix at a time.
"""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, NoReturn, TypeVar, cast

from gateway.config.errors import ConfigError

_T = TypeVar("_T")
#: Default of a getter for a required key.
_REQUIRED: Any = object()


def keys_of(cls: type) -> frozenset[str]:
    """The TOML keys of a section: the field names of its dataclass."""
    return frozenset(f.name for f in fields(cls))


def show(value: object) -> str:
    """Render a bad value for an error message, TOML-style."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "a table"
    return repr(value)


def resolve_path(raw: str, base: Path) -> Path:
    """``raw`` with ``~`` expanded, relative to ``base`` (the config file's directory)."""
    path = Path(raw).expanduser()
    if not path.is_absolute():
        path = base / path
    return Path(os.path.normpath(path))


class Table:
    """A TOML table being validated, with its key path for error messages."""

    def __init__(self, data: object, path: str, known: frozenset[str]) -> None:
        if not isinstance(data, Mapping):
            where = path or "config"
            raise ConfigError(f"{where}: expected a table, got {show(data)}", key=path or None)
        self.data: Mapping[str, Any] = data
        self.path = path
        for key in data:
            if key not in known:
                hint = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
                if hint:
                    self.fail(key, f"unknown key (did you mean {hint[0]!r}?)")
                self.fail(key, f"unknown key (known keys: {', '.join(sorted(known))})")

    def key(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def fail(self, key: str, message: str) -> NoReturn:
        full = self.key(key)
        raise ConfigError(f"{full}: {message}", key=full)

    def has(self, key: str) -> bool:
        return key in self.data

    def _get(self, key: str, default: object) -> Any:
        value = self.data.get(key, _REQUIRED)
        if value is _REQUIRED:
            if default is _REQUIRED:
                self.fail(key, "required key is missing")
            return default
        return value

    # --- sub-tables ---------------------------------------------------------------------------

    def table(self, key: str, known: frozenset[str]) -> Table:
        """The sub-table ``key`` (empty when absent), whose keys must be in ``known``."""
        return Table(self._get(key, {}), self.key(key), known)

    def array_of_tables(self, key: str) -> list[object]:
        value = self._get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"expected an array of tables ([[{key}]]), got {show(value)}")
        return cast(list[object], value)

    # --- scalars ------------------------------------------------------------------------------

    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {show(value)}")
        return value

    def integer(self, key: str, default: int, lo: int, hi: int, *, hex_: bool = False) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
            rng = f"{lo:#x}-{hi:#x}" if hex_ else f"{lo}-{hi}"
            self.fail(key, f"expected an integer {rng}, got {show(value)}")
        return value

    def port(self, key: str, default: int) -> int:
        return self.integer(key, default, 1, 65535)

    def required_port(self, key: str) -> int:
        return self.integer(key, _REQUIRED, 1, 65535)

    def opt_port(self, key: str) -> int | None:
        return self.port(key, 0) if self.has(key) else None

    def seconds(self, key: str, default: float, *, allow_zero: bool = False) -> float:
        value = self._get(key, default)
        ok = (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and math.isfinite(value)
            and (value >= 0 if allow_zero else value > 0)
        )
        if not ok:
            what = "a number of seconds >= 0" if allow_zero else "a positive number of seconds"
            self.fail(key, f"expected {what}, got {show(value)}")
        return float(value)

    def string(self, key: str, default: str, *, nonempty: bool = False) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {show(value)}")
        if nonempty and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def required_str(self, key: str) -> str:
        return self.string(key, _REQUIRED, nonempty=True)

    def smpp_str(
        self,
        key: str,
        max_len: int,
        *,
        required: bool = False,
        default: str = "",
        allow_empty: bool = False,
    ) -> str:
        """An SMPP C-Octet String field: printable ASCII, at most ``max_len`` characters."""
        value = self.string(key, _REQUIRED if required else default)
        if not value and not allow_empty:
            self.fail(key, "must not be empty")
        if not all(" " <= ch <= "~" for ch in value):
            self.fail(key, "must contain only printable ASCII characters (SMPP 3.4 C-Octet String)")
        if len(value) > max_len:
            self.fail(
                key,
                f"too long ({len(value)} characters; SMPP 3.4 allows at most {max_len})",
            )
        return value

    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self._get(key, default)
        if isinstance(value, str) and value.lower() in options:
            return value.lower()
        expected = ", ".join(repr(o) for o in options)
        self.fail(key, f"expected one of {expected}, got {show(value)}")

    def str_list(self, key: str, default: _T) -> tuple[str, ...] | _T:
        value = self._get(key, default)
        if value is default:
            return default
        if not isinstance(value, list):
            self.fail(key, f"expected an array of strings, got {show(value)}")
        for i, item in enumerate(value):
            if not isinstance(item, str):
                self.fail(f"{key}[{i}]", f"expected a string, got {show(item)}")
        return tuple(value)

    def file(self, key: str, base: Path) -> Path | None:
        """An existing file, resolved against ``base``; None when the key is absent."""
        if not self.has(key):
            return None
        path = resolve_path(self.string(key, "", nonempty=True), base)
        if not path.is_file():
            self.fail(key, f"file not found: {path}")
        return path
