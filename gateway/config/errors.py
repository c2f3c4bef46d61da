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
        #: Every problem found (this one first): a config is checked whole, so that all its errors
        #: can be fixed at once. A single error is its own only entry.
        self.errors: tuple[ConfigError, ...] = (self,)

    @classmethod
    def of(cls, errors: list[ConfigError]) -> ConfigError:
        """One error standing for ``errors`` (in file order): its message lists them all."""
        if len(errors) == 1:
            return errors[0]
        first = errors[0]
        combined = cls("; ".join(str(e) for e in errors), key=first.key)
        combined.errors = tuple(errors)
        return combined
