"""Checks ``stopgate run`` makes before it starts and ``stopgate check-config`` reports: what a config
can be valid for yet still not run with (the storage directory missing or not writable, TLS files that
are not a certificate and its key)."""

from __future__ import annotations

import os
import socket
import ssl
from pathlib import Path

from gateway.config import Config
from gateway.config.schema import join_host_port


def storage_problem(config: Config) -> str | None:
    """Why the store file cannot be created or written, or None."""
    path = Path(config.storage.path)
    directory = path.parent
    if not directory.exists():
        return f"storage directory {directory} does not exist (create it, or change storage.path)"
    if not directory.is_dir():
        return f"storage directory {directory} is not a directory (storage.path = {path})"
    if path.exists():
        if path.is_dir():
            return f"storage.path {path} is a directory, not a database file"
        if not os.access(path, os.R_OK | os.W_OK):
            return f"storage file {path} is not readable and writable by this user"
    # The WAL and shared-memory files are created beside the database, so the directory must be
    # writable even when the file exists.
    if not os.access(directory, os.W_OK | os.X_OK):
        return f"storage directory {directory} is not writable by this user (storage.path = {path})"
    return None


def tls_problem(config: Config) -> str | None:
    """Why the SMPP listener's certificate and key cannot be loaded together, or None."""
    listen = config.listen
    if listen.tls_cert is None or listen.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    try:
        context.load_cert_chain(listen.tls_cert, listen.tls_key)
    except ssl.SSLError as exc:
        # OpenSSL's own reason ("PEM lib") says little: say which files and what they must be.
        return (
            f"listen.tls_cert {listen.tls_cert} and listen.tls_key {listen.tls_key} cannot be loaded "
            f"as a PEM certificate (chain) and its private key ({exc.reason or exc})"
        )
    except OSError as exc:
        return f"listen.tls_cert / listen.tls_key: {exc.filename or ''} {exc.strerror or exc}".strip()
    return None


def config_problems(config: Config) -> list[str]:
    """What would stop ``stopgate run`` although the config is valid, ports aside (``check-config``
    may run beside the proxy that holds them)."""
    return [p for p in (storage_problem(config), tls_problem(config)) if p is not None]


def port_problems(config: Config) -> list[str]:
    """Each listening address of ``config`` already in use, named (checked just before ``run`` starts)."""
    listen = config.listen
    wanted = [("SMPP listener", listen.host, listen.port)]
    if listen.tls_port:
        wanted.append(("SMPP TLS listener", listen.host, listen.tls_port))
    if config.admin.enabled:
        wanted.append(("admin API", config.admin.host, config.admin.port))
    problems = []
    for what, host, port in wanted:
        if port == 0:
            continue
        error = _bind_error(host, port)
        if error is not None:
            problems.append(f"{what} cannot listen on {join_host_port(host, port)}: {error}")
    return problems


def _bind_error(host: str, port: int) -> str | None:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return f"cannot resolve {host!r} ({exc.strerror})"
    for family, kind, proto, _, address in infos:
        with socket.socket(family, kind, proto) as sock:
            # As the listeners do: SO_REUSEADDR, so only a socket still listening is a conflict.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                return (exc.strerror or str(exc)).lower()
    return None


def startup_problems(config: Config) -> list[str]:
    """Everything :func:`config_problems` and :func:`port_problems` find."""
    return [*config_problems(config), *port_problems(config)]
