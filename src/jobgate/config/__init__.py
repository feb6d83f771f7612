"""The gateway's configuration: a TOML file (``loading``) becomes ``Settings`` (``settings``).

Sources (``sources``) take the keys every source has plus the ones their vendor declares;
``[auth]`` is read by ``auth``. Every mistake is a ``ConfigError`` naming file, source and key.
"""

from jobgate.config.auth import AuthSettings
from jobgate.config.loading import load_settings, parse_settings
from jobgate.config.settings import (
    MUTATION_GRACE,
    ConfigError,
    IdempotencySettings,
    OptionValue,
    ServerSettings,
    Settings,
    SourceSettings,
    TelemetrySettings,
    startup_warnings,
)
from jobgate.config.sources import MAX_RETRIES, source_settings

__all__ = [
    "MAX_RETRIES",
    "MUTATION_GRACE",
    "AuthSettings",
    "ConfigError",
    "IdempotencySettings",
    "OptionValue",
    "ServerSettings",
    "Settings",
    "SourceSettings",
    "TelemetrySettings",
    "load_settings",
    "parse_settings",
    "source_settings",
    "startup_warnings",
]
