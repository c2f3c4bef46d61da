"""The one exception of the config package."""

from __future__ import annotations


class ConfigError(Exception):
    """An invalid configuration. ``key`` is the offending key path when there is one.

    The message starts with that key path (``account[1].upstream: unknown upstream 'simx'``), and
    with the file path too when the error comes from :func:`gateway.config.load_config`.
    """

    def __init__(self, message: str, *, key: str | None = None) -> None:
        super().__init__(message)
        self.key = key
