"""Settings from a TOML file with ``${VAR}`` taken from the environment.

Every mistake raises ``ConfigError`` whose text is one line naming the file, the source and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jobgate.config.auth import AuthConfigError, AuthSettings, parse_auth
from jobgate.config.settings import (
    AuditSettings,
    ConfigError,
    IdempotencySettings,
    ServerSettings,
    Settings,
    SourceSettings,
    TelemetrySettings,
)
from jobgate.config.sources import parse_source
from jobgate.config.values import expand, table, typed
from jobgate.internals.redis import url_problem


def load_settings(path: str | Path, environ: Mapping[str, str] | None = None) -> Settings:
    file = str(path)
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        raise ConfigError(file, f"cannot read the file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(file, "the file is not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, f"invalid TOML: {exc}") from None
    return parse_settings(data, file, os.environ if environ is None else environ)


def parse_settings(data: Mapping[str, Any], file: str, environ: Mapping[str, str]) -> Settings:
    unknown = set(data) - {"server", "sources", "idempotency", "auth", "audit", "telemetry"}
    if unknown:
        raise ConfigError(file, "unknown table or key", key=sorted(unknown)[0])
    server = _server(table(data.get("server", {}), file, "server"), file, environ)
    sources_table = table(data.get("sources", {}), file, "sources")
    if not sources_table:
        raise ConfigError(file, "no [sources.<name>] table: configure at least one source")
    sources = {
        name: parse_source(name, table(body, file, f"sources.{name}"), file, environ)
        for name, body in sources_table.items()
    }
    idempotency = _idempotency(
        table(data.get("idempotency", {}), file, "idempotency"), file, environ
    )
    auth = _auth(data.get("auth"), file, environ, sources)
    audit = _audit(table(data.get("audit", {}), file, "audit"), file, environ)
    telemetry = _telemetry(table(data.get("telemetry", {}), file, "telemetry"), file, environ)
    return Settings(
        server=server,
        sources=sources,
        file=file,
        idempotency=idempotency,
        auth=auth,
        audit=audit,
        telemetry=telemetry,
    )


_AUDIT_TYPES: dict[str, type] = {"file": str, "max_bytes": int, "backups": int}


def _audit(keys: dict[str, Any], file: str, environ: Mapping[str, str]) -> AuditSettings:
    return AuditSettings(**_typed_table("audit", keys, _AUDIT_TYPES, file, environ))


_TELEMETRY_TYPES: dict[str, type] = {
    "otlp_endpoint": str,
    "service_name": str,
    "sample_ratio": float,
    "timeout": float,
}


def _telemetry(keys: dict[str, Any], file: str, environ: Mapping[str, str]) -> TelemetrySettings:
    """``[telemetry]``; ``otlp_headers`` is a table of strings (${VAR}s expanded)."""
    raw_headers = table(keys.pop("otlp_headers", {}), file, "telemetry.otlp_headers")
    values = _typed_table("telemetry", keys, _TELEMETRY_TYPES, file, environ)
    endpoint = values.get("otlp_endpoint")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(
            file, "must be an http:// or https:// URL", key="[telemetry] otlp_endpoint"
        )
    if values.get("sample_ratio", 1.0) > 1.0:
        raise ConfigError(file, "must be at most 1", key="[telemetry] sample_ratio")
    headers = {}
    for name, value in raw_headers.items():
        where = f"[telemetry.otlp_headers] {name}"
        headers[name] = typed(expand(value, file, None, where, environ), str, file, None, where)
    return TelemetrySettings(**values, otlp_headers=headers)


def _typed_table(
    name: str,
    keys: dict[str, Any],
    types: Mapping[str, type],
    file: str,
    environ: Mapping[str, str],
) -> dict[str, Any]:
    """A ``[name]`` table's values, ${VAR}s expanded and each of the type ``types`` gives it;
    a key ``types`` does not name is an error."""
    values: dict[str, Any] = {}
    for key, raw in keys.items():
        where = f"[{name}] {key}"
        if key not in types:
            raise ConfigError(file, "unknown key", key=where)
        value = expand(raw, file, None, where, environ)
        values[key] = typed(value, types[key], file, None, where)
    return values


def _auth(
    raw: Any, file: str, environ: Mapping[str, str], sources: Mapping[str, SourceSettings]
) -> AuthSettings:
    """``[auth]`` (see jobgate.config.auth); absent: no authentication."""
    if raw is None:
        return AuthSettings()

    def expand_auth(value: Any, key: str) -> Any:
        return expand(value, file, None, key, environ)

    try:
        return parse_auth(table(raw, file, "auth"), expand_auth, set(sources))
    except AuthConfigError as exc:
        raise ConfigError(file, exc.message, key=exc.key) from None


_SERVER_TYPES: dict[str, type] = {
    "graphiql": bool,
    "introspection": bool,
    "host": str,
    "port": int,
    "request_timeout": float,
    "max_ids": int,
    "max_depth": int,
    "max_aliases": int,
    "max_tokens": int,
    "max_directives": int,
    "max_body_bytes": int,
    "csrf_prevention": bool,
    "csrf_header": str,
    "metrics": bool,
    "probe_sources": bool,
    "fast_paths": bool,
    "document_cache": bool,
    "persisted_queries": bool,
    "max_page_size": int,
    "max_subscriptions_per_connection": int,
    "max_live_connections_per_client": int,
    "cursor_secret": str,
}


def _server(keys: dict[str, Any], file: str, environ: Mapping[str, str]) -> ServerSettings:
    values = _typed_table("server", keys, _SERVER_TYPES, file, environ)
    if "max_page_size" in values and not 1 <= values["max_page_size"] <= 1000:
        raise ConfigError(file, "must be between 1 and 1000", key="[server] max_page_size")
    if len(values.get("cursor_secret", "x" * 16)) < 16:
        raise ConfigError(file, "must be at least 16 characters", key="[server] cursor_secret")
    if "port" in values and not 0 < values["port"] < 65536:
        raise ConfigError(file, "must be between 1 and 65535", key="[server] port")
    if "csrf_header" in values and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", values["csrf_header"]):
        raise ConfigError(
            file, "must be a header name (letters, digits, '-')", key="[server] csrf_header"
        )
    return ServerSettings(**values)


_IDEMPOTENCY_TYPES: dict[str, type] = {
    "redis_url": str,
    "path": str,
    "ttl_seconds": float,
    "max_keys": int,
}


def _idempotency(
    keys: dict[str, Any], file: str, environ: Mapping[str, str]
) -> IdempotencySettings:
    values = _typed_table("idempotency", keys, _IDEMPOTENCY_TYPES, file, environ)
    if "redis_url" in values:
        # The message never repeats the URL: it may carry a password.
        url = urlsplit(values["redis_url"])
        try:
            valid = url.scheme in ("redis", "rediss") and bool(url.hostname) and url.port != 0
        except ValueError:  # a port that is not a number from 0 to 65535
            valid = False
        if not valid:
            message = "must be a redis:// or rediss:// URL with a host"
            raise ConfigError(file, message, key="[idempotency] redis_url")
        if (problem := url_problem(values["redis_url"])) is not None:
            raise ConfigError(file, problem, key="[idempotency] redis_url")
    return IdempotencySettings(**values)
