"""``stopgate run``: the proxy and the admin API, until SIGTERM.

Every failure to start (the config, the storage directory, a port in use, the TLS files) is one
``stopgate: ...`` line on stderr and exit status 2, never a traceback (``STOPGATE_DEBUG=1`` re-raises).
"""

from __future__ import annotations

import errno
import os
import ssl
from pathlib import Path

import click
import structlog

from gateway.config import Config, ConfigError, load_config
from gateway.config.schema import join_host_port
from gateway.ops.cli.checks import config_problems, startup_problems
from gateway.ops.cli.errors import exit_with
from gateway.ops.cli.options import config_option
from gateway.store.model import StoreError


@click.command()
@config_option
@click.option(
    "--workers",
    type=click.IntRange(1, 256),
    default=None,
    help="Worker processes sharing the SMPP port under a supervisor (default: listen.workers, 1).",
)
def run(config_path: Path, workers: int | None) -> None:
    """Run the proxy (and the admin API) until SIGTERM."""
    from gateway.app import run as run_app  # the whole proxy: not imported by the other commands
    from gateway.ops.logs import configure_logging
    from gateway.ops.workers import supervise, worker_index

    try:
        config = load_config(config_path)
    except ConfigError as exc:
        exit_with(f"invalid config: {exc}")
    index = worker_index()
    # A worker shares ports its supervisor checked (and its siblings hold): only the config is its own.
    for problem in startup_problems(config) if index is None else config_problems(config):
        exit_with(f"cannot start: {problem}")
    count = workers or config.listen.workers
    if count > 1 and config.listen.port == 0:
        exit_with("cannot start: several workers share one fixed port: set listen.port")
    configure_logging(config.logging)
    structlog.get_logger("stopgate").info(
        "config loaded", path=str(Path(config_path).resolve()), worker=index
    )
    try:
        if count > 1 and index is None:
            supervise(config_path, count)
        else:
            run_app(config_path, worker=index or 0, workers=count)
    except KeyboardInterrupt:
        exit_with("interrupted", 130)
    except BaseException as exc:
        if isinstance(exc, SystemExit) or os.environ.get("STOPGATE_DEBUG"):
            raise
        exit_with(startup_failure(exc, config))


def startup_failure(exc: BaseException, config: Config) -> str:
    """One line for what stopped ``run`` (the first error of a task group)."""
    error = exc
    while isinstance(error, BaseExceptionGroup):
        error = error.exceptions[0]
    if isinstance(error, OSError) and error.errno == errno.EADDRINUSE and "admin API" not in str(error):
        # The admin server names its address; the SMPP listener's error does not, so name it here.
        listen = config.listen
        ports = [str(p) for p in (listen.port, listen.tls_port) if p]
        return (
            f"cannot start: SMPP listener cannot listen on {join_host_port(listen.host, listen.port)}"
            f"{' (or TLS port ' + ports[1] + ')' if len(ports) > 1 else ''}: address already in use"
        )
    if isinstance(error, ssl.SSLError):
        return f"cannot start: TLS certificate or key unusable: {error.reason or error}"
    if isinstance(error, StoreError):
        return f"cannot start: store error: {error}"
    if isinstance(error, OSError):
        where = f"{error.filename}: " if error.filename else ""
        return f"cannot start: {where}{error.strerror or error}"
    return f"unexpected error: {type(error).__name__}: {error} (set STOPGATE_DEBUG=1 for details)"
