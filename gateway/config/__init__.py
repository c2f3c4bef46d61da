"""Stopgate configuration: a TOML file parsed into frozen dataclasses.

- :mod:`~gateway.config.schema`: the dataclasses (:class:`Config` and one class per section).
- :mod:`~gateway.config.reader`: typed getters over one TOML table; errors name the key path.
- :mod:`~gateway.config.sections`, :mod:`~gateway.config.upstreams`, :mod:`~gateway.config.accounts`:
  one parser per section.
- :mod:`~gateway.config.load`: :func:`load_config` (a file) and :func:`parse_config` (parsed data).
- :mod:`~gateway.config.describe`: what ``stopgate check-config`` prints (not exported here: the
  function bears the module's name).
- :mod:`~gateway.config.scopes`: the scope an operator's request acts on.
- :mod:`~gateway.config.passwords`: ``password_hash`` values (PBKDF2) and bind password checks.
"""

from gateway.config.errors import ConfigError
from gateway.config.load import load_config, parse_config
from gateway.config.schema import (
    MAX_PASSWORD,
    MAX_SYSTEM_ID,
    MAX_SYSTEM_TYPE,
    AccountConfig,
    AdminConfig,
    AdminRole,
    AdminToken,
    BlockMode,
    Config,
    FooterMode,
    KeywordsConfig,
    ListenConfig,
    LogFormat,
    LoggingConfig,
    LogLevel,
    LongMessages,
    MoConfig,
    NumbersConfig,
    OptoutConfig,
    SecurityConfig,
    SessionConfig,
    StorageConfig,
    Traffic,
    UpstreamConfig,
)
from gateway.config.scopes import (
    ScopeError,
    check_scope,
    configured_scopes,
    resolve_scope,
    scope_filter,
)

__all__ = [
    "MAX_PASSWORD",
    "MAX_SYSTEM_ID",
    "MAX_SYSTEM_TYPE",
    "AccountConfig",
    "AdminConfig",
    "AdminRole",
    "AdminToken",
    "BlockMode",
    "Config",
    "ConfigError",
    "FooterMode",
    "KeywordsConfig",
    "ListenConfig",
    "LogFormat",
    "LogLevel",
    "LoggingConfig",
    "LongMessages",
    "MoConfig",
    "NumbersConfig",
    "OptoutConfig",
    "ScopeError",
    "SecurityConfig",
    "SessionConfig",
    "StorageConfig",
    "Traffic",
    "UpstreamConfig",
    "check_scope",
    "configured_scopes",
    "load_config",
    "parse_config",
    "resolve_scope",
    "scope_filter",
]
