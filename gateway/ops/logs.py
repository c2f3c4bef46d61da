"""Logging: structlog, one JSON object per line (or human-readable on a TTY).

Log lines never carry passwords; message bodies only with ``logging.log_message_text`` and numbers are
masked with ``logging.mask_numbers``. Both are enforced here, for every log call, by the key an event
uses (``number``, ``text``...), on top of what each call site does. A log line that cannot be written
(a full disk, a closed pipe) is dropped: logging never takes the proxy down.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog

from gateway.config import LoggingConfig
from gateway.numbers import mask_number

_SECRET_KEYS = frozenset({"password", "password_hash", "token", "tokens", "authorization"})
#: Keys whose values are phone numbers (masked with ``mask_numbers``).
NUMBER_KEYS = frozenset({"number", "msisdn", "source_addr", "destination_addr"})
#: Keys whose values are message bodies (hidden unless ``log_message_text``).
TEXT_KEYS = frozenset({"text", "short_message", "message_payload", "message_text"})


def _drop_secrets(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    for key in _SECRET_KEYS & event.keys():
        event[key] = "***"
    return event


def privacy_processor(config: LoggingConfig) -> Any:
    """Hide message bodies (unless ``log_message_text``) and mask numbers (with ``mask_numbers``)."""
    hide_text = not config.log_message_text
    mask = config.mask_numbers

    def processor(_: Any, __: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
        if hide_text:
            for key in TEXT_KEYS & event.keys():
                value = event[key]
                size = len(value) if isinstance(value, str | bytes) else None
                event[key] = "<hidden>" if size is None else f"<{size} chars hidden>"
        if mask:
            for key in NUMBER_KEYS & event.keys():
                value = event[key]
                if isinstance(value, str):
                    event[key] = mask_number(value)
        return event

    return processor


class _SafeStream:
    """A log stream whose write failures are counted and dropped instead of raised."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream
        self.dropped = 0

    def write(self, text: str) -> int:
        try:
            return int(self.stream.write(text))
        except (OSError, ValueError):
            self.dropped += 1
            return 0

    def flush(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.stream.flush()

    def isatty(self) -> bool:
        try:
            return bool(self.stream.isatty())
        except (OSError, ValueError):
            return False


def configure_logging(config: LoggingConfig, *, stream: Any = None) -> None:
    stream = _SafeStream(stream or sys.stderr)
    level = getattr(logging, config.level.upper())
    fmt = config.format
    if fmt == "auto":
        fmt = "console" if stream.isatty() else "json"
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=stream.isatty())
        if fmt == "console"
        else structlog.processors.JSONRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _drop_secrets,
            privacy_processor(config),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
