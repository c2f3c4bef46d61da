"""Typed reading of one TOML table, with the key path every error message starts with.

A :class:`Table` refuses unknown keys when it is built (suggesting the closest known one, so that a
typo is never silently ignored), and its getters (``integer``, ``seconds``, ``choice``, ...) return
the value or raise :class:`ConfigError` naming the full key (``account[1].footer_days: expected an
integer 1-36500, got 0``).

A table built with an :class:`Errors` collector goes on after a bad key: the getter records the error
(the first per key) and returns the key's default, so one load reports every bad key at once. A bad
required key, and a check across keys, still end the table (``load.py`` then goes on with the next).
"""

from __future__ import annotations

import difflib
import functools
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, Concatenate, NoReturn, ParamSpec, TypeVar, cast

from gateway.config.errors import ConfigError

_T = TypeVar("_T")
_P = ParamSpec("_P")
#: Default of a getter for a required key.
_REQUIRED: Any = object()


class Errors:
    """The errors of one load, the first per key, in the order found."""

    def __init__(self) -> None:
        self.by_key: dict[str, ConfigError] = {}

    def add(self, error: ConfigError) -> None:
        self.by_key.setdefault(error.key or str(error), error)

    def __bool__(self) -> bool:
        return bool(self.by_key)

    def all(self) -> list[ConfigError]:
        return list(self.by_key.values())


def _lenient(
    getter: Callable[Concatenate[Table, str, _P], _T],
) -> Callable[Concatenate[Table, str, _P], _T]:
    """``getter`` recording its error and returning the default, when its table collects errors."""

    @functools.wraps(getter)
    def read(self: Table, key: str, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return getter(self, key, *args, **kwargs)
        except ConfigError as exc:
            if getter.__name__ == "smpp_str":  # (key, max_len, *, required, default)
                default = _REQUIRED if kwargs.get("required") else kwargs.get("default", "")
            elif getter.__name__ == "file":  # (key, base): absent is None
                default = None
            else:  # (key, default, ...)
                default = args[0] if args else kwargs.get("default", _REQUIRED)
            if self.errors is None or default is _REQUIRED or self.key(key) in self.errors.by_key:
                raise
            self.errors.add(exc)
            return cast(_T, default)

    return read


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

    def __init__(self, data: object, path: str, known: frozenset[str], errors: Errors | None = None) -> None:
        if not isinstance(data, Mapping):
            where = path or "config"
            raise ConfigError(f"{where}: expected a table, got {show(data)}", key=path or None)
        self.data: Mapping[str, Any] = data
        self.path = path
        #: Where errors go while the load goes on (None: the first error raises).
        self.errors = errors
        unknown = []
        for key in data:
            if key not in known:
                hint = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
                if hint:
                    message = f"unknown key (did you mean {hint[0]!r}?)"
                else:
                    message = f"unknown key (known keys: {', '.join(sorted(known))})"
                unknown.append(ConfigError(f"{self.key(key)}: {message}", key=self.key(key)))
        if unknown and errors is None:
            raise unknown[0]
        for error in unknown:
            assert errors is not None
            errors.add(error)

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
        return Table(self._get(key, {}), self.key(key), known, self.errors)

    def array_of_tables(self, key: str) -> list[object]:
        value = self._get(key, [])
        if not isinstance(value, list):
            self.fail(key, f"expected an array of tables ([[{key}]]), got {show(value)}")
        return cast(list[object], value)

    # --- scalars ------------------------------------------------------------------------------

    @_lenient
    def boolean(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if not isinstance(value, bool):
            self.fail(key, f"expected true or false, got {show(value)}")
        return value

    @_lenient
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

    @_lenient
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

    @_lenient
    def string(self, key: str, default: str, *, nonempty: bool = False) -> str:
        value = self._get(key, default)
        if not isinstance(value, str):
            self.fail(key, f"expected a string, got {show(value)}")
        if nonempty and not value.strip():
            self.fail(key, "must not be empty")
        return value

    def required_str(self, key: str) -> str:
        return self.string(key, _REQUIRED, nonempty=True)

    @_lenient
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

    @_lenient
    def choice(self, key: str, default: str, options: tuple[str, ...]) -> str:
        value = self._get(key, default)
        if isinstance(value, str) and value.lower() in options:
            return value.lower()
        expected = ", ".join(repr(o) for o in options)
        self.fail(key, f"expected one of {expected}, got {show(value)}")

    @_lenient
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

    @_lenient
    def file(self, key: str, base: Path) -> Path | None:
        """An existing file, resolved against ``base``; None when the key is absent."""
        if not self.has(key):
            return None
        path = resolve_path(self.string(key, "", nonempty=True), base)
        if not path.is_file():
            self.fail(key, f"file not found: {path}")
        return path
