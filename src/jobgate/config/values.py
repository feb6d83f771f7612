"""Reading one value of a config file: ``${VAR}`` expansion and type checks, each failure a
``ConfigError`` naming the file, the source and the key."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from jobgate.config.settings import ConfigError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def table(value: Any, file: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(file, "must be a table", key=where)
    return value


def expand(value: Any, file: str, source: str | None, key: str, environ: Mapping[str, str]) -> Any:
    if not isinstance(value, str):
        return value

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise ConfigError(
                file, f"environment variable {name} is not set", source=source, key=key
            )
        return environ[name]

    return _VAR.sub(lookup, value)


def typed(value: Any, kind: type, file: str, source: str | None, key: str) -> Any:
    if kind is bool:
        if not isinstance(value, bool):
            raise ConfigError(file, "must be true or false", source=source, key=key)
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ConfigError(file, "must be a positive number", source=source, key=key)
        if kind is int and not isinstance(value, int):
            raise ConfigError(file, "must be a whole number", source=source, key=key)
        return kind(value)
    if not isinstance(value, str) or not value:
        raise ConfigError(file, "must be a non-empty string", source=source, key=key)
    return value
