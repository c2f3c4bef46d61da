"""Failures of a command as one line on stderr (``stopgate: <message>``) and an exit status."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import Any, NoReturn, TypeVar

import click

from gateway.config import ConfigError, ScopeError
from gateway.numbers import InvalidNumber
from gateway.store.model import StoreError

_T = TypeVar("_T")

#: Exit status of any error (an invalid config included).
EXIT_ERROR = 2


class CliError(Exception):
    """A problem to report on one line of stderr, with an exit status."""

    def __init__(self, message: str, status: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.status = status


def fail(message: str, status: int = EXIT_ERROR) -> NoReturn:
    raise CliError(message, status)


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def exit_with(message: str, status: int = EXIT_ERROR) -> NoReturn:
    """Print ``stopgate: <message>`` on stderr and exit with ``status``."""
    click.echo(f"stopgate: {one_line(message)}", err=True)
    sys.exit(status)


def handle_errors(func: Callable[..., _T]) -> Callable[..., _T]:
    """Turn every expected failure into ``stopgate: <message>`` on stderr and an exit status."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> _T:
        try:
            return func(*args, **kwargs)
        except CliError as exc:
            message, status = str(exc), exc.status
        except ConfigError as exc:
            message, status = f"invalid config: {exc}", EXIT_ERROR
        except ScopeError as exc:
            message, status = str(exc), EXIT_ERROR
        except StoreError as exc:
            message, status = f"store error: {exc}", EXIT_ERROR
        except InvalidNumber as exc:
            message, status = str(exc), EXIT_ERROR
        except BrokenPipeError:
            # The reader went away (`... | head`): stop quietly.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            message, status = f"{where}{exc.strerror or exc}", EXIT_ERROR
        except KeyboardInterrupt:
            message, status = "interrupted", 130
        except Exception as exc:  # a bug: still one line, with a hint to get the details
            if os.environ.get("STOPGATE_DEBUG"):
                raise
            message = f"unexpected error: {type(exc).__name__}: {exc} (set STOPGATE_DEBUG=1 for details)"
            status = EXIT_ERROR
        exit_with(message, status)

    return wrapper
