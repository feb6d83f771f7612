"""Settings from a TOML file with ``${VAR}`` taken from the environment.

Every mistake raises ``ConfigError`` whose text is one line naming the file, the source and the key.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jobgate.config.auth import AuthConfigError, AuthSettings, parse_auth
from jobgate.domain import Provider

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SOURCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")


class ConfigError(Exception):
    """A config file that cannot be used; ``str()`` is the one line to show the operator."""

    def __init__(
        self, file: str, message: str, *, source: str | None = None, key: str | None = None
    ) -> None:
        where = file
        if source is not None:
            where += f": [sources.{source}]"
        if key is not None:
            where += f" {key}" if source is not None else f": {key}"
        super().__init__(f"{where}: {message}")


# Seconds past request_timeout before a mutation is cut short without its payload: its calls
# end by the deadline (a write early enough to read the job back), so this is a last resort.
MUTATION_GRACE = 2.0


@dataclass(frozen=True, slots=True)
class ServerSettings:
    graphiql: bool = True
    introspection: bool = True
    host: str = "127.0.0.1"
    port: int = 8000
    request_timeout: float = 30.0
    max_ids: int = 100
    # graphql-armor's defaults. Depth counts nested selection sets; the deepest legitimate
    # query (manageJobs > results > job > details > customFields > id) is 5.
    max_depth: int = 6
    max_aliases: int = 15
    max_directives: int = 50
    max_tokens: int = 1000
    max_body_bytes: int = 100_000
    csrf_prevention: bool = True  # see jobgate.web.csrf
    csrf_header: str = "x-jobgate-csrf"
    metrics: bool = True  # serve GET /metrics (Prometheus text format)
    # At start, one cheap read per source, so /readyz and `sources { healthy }` know each works.
    probe_sources: bool = True


@dataclass(frozen=True, slots=True)
class SourceSettings:
    name: str
    provider: Provider
    # "" only for a Data Cloud source whose token exchange names its instance_url.
    base_url: str = ""
    token: str | None = field(default=None, repr=False)  # a fixed token, never renewed
    auth_header: str = "bearer"
    # What obtains tokens that renew themselves (PROVIDERS.md §5), per provider.
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    login_url: str | None = None  # data-cloud: the Salesforce login host
    private_key_file: str | None = None  # data-cloud: JWT bearer flow
    private_key: str | None = field(default=None, repr=False)  # that file's PEM, read at load
    customer_id: str | None = None
    token_url: str | None = None
    timeout: float = 10.0
    connect_timeout: float = 3.0
    max_concurrency: int = 16
    retries: int = 2  # retries of a failed read (0-5); writes are never retried
    breaker_failures: int = 5  # consecutive failed calls that open the circuit
    breaker_cooldown: float = 30.0  # seconds an open circuit fails fast before a probe
    coalesce_reads: bool = True  # concurrent reads of one job share one upstream read
    max_answer_bytes: int = 4_000_000  # an upstream answer longer than this is not read
    # workflow-manager: the jobStatus values that mean a job is running (org-configured).
    running_statuses: tuple[str, ...] = ("Working",)

    def secrets(self) -> tuple[str, ...]:
        """Values that must never appear in a response or a log line."""
        values = (self.token, self.client_secret, self.password, self.private_key)
        return tuple(s for s in values if s)

    @property
    def renews_tokens(self) -> bool:
        """Whether the source obtains its tokens (and renews them) instead of a fixed one."""
        return self.token is None


@dataclass(frozen=True, slots=True)
class IdempotencySettings:
    """``[idempotency]``: where Idempotency-Key answers are kept, and for how long."""

    redis_url: str | None = field(default=None, repr=False)  # shared by replicas on any host
    # A SQLite file shared by the processes of one host (`serve --workers N` makes one).
    path: str | None = None
    ttl_seconds: float = 86_400.0
    max_keys: int = 100_000  # bound of the in-memory store (one process, no redis_url or path)


@dataclass(frozen=True, slots=True)
class Settings:
    server: ServerSettings
    sources: Mapping[str, SourceSettings]
    file: str | None = None
    demo: bool = False
    idempotency: IdempotencySettings = field(default_factory=IdempotencySettings)
    auth: AuthSettings = field(default_factory=AuthSettings)  # empty: open to every caller


_COMMON_KEYS = {
    "provider",
    "base_url",
    "timeout",
    "connect_timeout",
    "max_concurrency",
    "retries",
    "breaker_failures",
    "breaker_cooldown",
    "coalesce_reads",
    "max_answer_bytes",
}
# Per provider: its ways to authenticate, each (keys it needs, keys it may take); a source
# uses exactly one of them. A fixed token is valid everywhere; the others obtain tokens.
_AUTH_MODES: dict[Provider, tuple[tuple[frozenset[str], frozenset[str]], ...]] = {
    Provider.CONTENT_HUB: (
        (frozenset({"token"}), frozenset({"auth_header"})),
        (
            frozenset({"client_id", "client_secret", "username", "password"}),
            frozenset({"token_url"}),
        ),
    ),
    Provider.BIGCHANGE: (
        (frozenset({"client_id", "client_secret"}), frozenset({"token_url"})),
        (frozenset({"token"}), frozenset()),
    ),
    Provider.DATA_CLOUD: (
        (frozenset({"token"}), frozenset()),
        (frozenset({"login_url", "client_id", "client_secret"}), frozenset()),
        (frozenset({"login_url", "client_id", "private_key_file", "username"}), frozenset()),
    ),
    Provider.WORKFLOW_MANAGER: (
        (frozenset({"token"}), frozenset()),
        (frozenset({"client_id", "client_secret"}), frozenset({"token_url"})),
    ),
}
# Per provider: (required keys, optional keys) beyond the common and the auth ones.
_PROVIDER_KEYS: dict[Provider, tuple[frozenset[str], frozenset[str]]] = {
    Provider.CONTENT_HUB: (frozenset(), frozenset()),
    Provider.BIGCHANGE: (frozenset({"customer_id"}), frozenset()),
    Provider.DATA_CLOUD: (frozenset(), frozenset()),
    Provider.WORKFLOW_MANAGER: (frozenset(), frozenset({"running_statuses"})),
}
_AUTH_HEADERS = {"bearer", "x-auth-token"}


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
    unknown = set(data) - {"server", "sources", "idempotency", "auth"}
    if unknown:
        raise ConfigError(file, "unknown table or key", key=sorted(unknown)[0])
    server = _server(_table(data.get("server", {}), file, "server"), file, environ)
    sources_table = _table(data.get("sources", {}), file, "sources")
    if not sources_table:
        raise ConfigError(file, "no [sources.<name>] table: configure at least one source")
    sources = {
        name: _source(name, _table(body, file, f"sources.{name}"), file, environ)
        for name, body in sources_table.items()
    }
    idempotency = _idempotency(
        _table(data.get("idempotency", {}), file, "idempotency"), file, environ
    )
    auth = _auth(data.get("auth"), file, environ, sources)
    return Settings(server=server, sources=sources, file=file, idempotency=idempotency, auth=auth)


def _auth(
    raw: Any, file: str, environ: Mapping[str, str], sources: Mapping[str, SourceSettings]
) -> AuthSettings:
    """``[auth]`` (see jobgate.config.auth); absent: no authentication."""
    if raw is None:
        return AuthSettings()

    def expand(value: Any, key: str) -> Any:
        return _expand(value, file, None, key, environ)

    try:
        return parse_auth(_table(raw, file, "auth"), expand, set(sources))
    except AuthConfigError as exc:
        raise ConfigError(file, exc.message, key=exc.key) from None


def _table(value: Any, file: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(file, "must be a table", key=where)
    return value


def _expand(value: Any, file: str, source: str | None, key: str, environ: Mapping[str, str]) -> Any:
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
}


def _server(table: dict[str, Any], file: str, environ: Mapping[str, str]) -> ServerSettings:
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key not in _SERVER_TYPES:
            raise ConfigError(file, "unknown key", key=f"[server] {key}")
        value = _expand(raw, file, None, f"[server] {key}", environ)
        values[key] = _typed(value, _SERVER_TYPES[key], file, None, f"[server] {key}")
    if "port" in values and not 0 < values["port"] < 65536:
        raise ConfigError(file, "must be between 1 and 65535", key="[server] port")
    if "csrf_header" in values and not re.fullmatch(r"[A-Za-z0-9-]{1,64}", values["csrf_header"]):
        raise ConfigError(
            file, "must be a header name (letters, digits, '-')", key="[server] csrf_header"
        )
    return ServerSettings(**values)


def _typed(value: Any, kind: type, file: str, source: str | None, key: str) -> Any:
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


# Source keys that are not strings (``retries`` is checked on its own: it may be 0).
_SOURCE_TYPES: dict[str, type] = {
    "timeout": float,
    "connect_timeout": float,
    "max_concurrency": int,
    "breaker_failures": int,
    "breaker_cooldown": float,
    "coalesce_reads": bool,
    "max_answer_bytes": int,
}
MAX_RETRIES = 5


def _source(
    name: str, table: dict[str, Any], file: str, environ: Mapping[str, str]
) -> SourceSettings:
    if not _SOURCE_NAME.fullmatch(name):
        raise ConfigError(
            file, "source names use letters, digits, '_' or '-' (at most 40)", source=name
        )
    if "provider" not in table:
        raise ConfigError(file, "is missing", source=name, key="provider")
    provider = Provider.from_config_name(str(table["provider"]))
    if provider is None:
        known = " | ".join(p.value for p in Provider)
        raise ConfigError(
            file,
            f"unknown provider {table['provider']!r} (use {known})",
            source=name,
            key="provider",
        )
    required, optional = _PROVIDER_KEYS[provider]
    modes = _AUTH_MODES[provider]
    auth_keys = frozenset().union(*(needed | extra for needed, extra in modes))
    for key in table:
        if key not in _COMMON_KEYS | required | optional | auth_keys:
            raise ConfigError(
                file, f"unknown key for provider {provider.value}", source=name, key=key
            )
    mode = _auth_mode(provider, set(table) & auth_keys, file, name)
    needs_base = not (provider is Provider.DATA_CLOUD and "login_url" in mode)
    for key in sorted(({"base_url"} if needs_base else set()) | required):
        if key not in table:
            raise ConfigError(file, "is missing", source=name, key=key)
    values: dict[str, Any] = {}
    for key, raw in table.items():
        if key == "provider":
            continue
        value = _expand(raw, file, name, key, environ)
        if key == "running_statuses":
            if not isinstance(value, list) or not value:
                raise ConfigError(file, "must be a non-empty list", source=name, key=key)
            expanded = [_expand(v, file, name, key, environ) for v in value]
            if not all(isinstance(v, str) and v.strip() for v in expanded):
                raise ConfigError(file, "must list non-empty strings", source=name, key=key)
            values[key] = tuple(expanded)
            continue
        if key == "retries":  # the one number that may be 0
            whole = isinstance(value, int) and not isinstance(value, bool)
            if not whole or not 0 <= value <= MAX_RETRIES:
                message = f"must be a whole number from 0 to {MAX_RETRIES}"
                raise ConfigError(file, message, source=name, key=key)
            values[key] = value
            continue
        kind = _SOURCE_TYPES.get(key, str)
        if key == "customer_id" and isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        values[key] = _typed(value, kind, file, name, key)
    for key in ("base_url", "token_url", "login_url"):
        if key in values:
            url = urlsplit(values[key])
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ConfigError(file, "must be an http(s) URL", source=name, key=key)
            values[key] = values[key].rstrip("/")
    if "private_key_file" in values:
        values["private_key"] = _private_key(values["private_key_file"], file, name)
    if "customer_id" in values and not values["customer_id"].isdigit():
        raise ConfigError(file, "must be a whole number", source=name, key="customer_id")
    if values.get("auth_header", "bearer") not in _AUTH_HEADERS:
        raise ConfigError(
            file, "must be 'bearer' or 'x-auth-token'", source=name, key="auth_header"
        )
    return SourceSettings(name=name, provider=provider, **values)


def _auth_mode(provider: Provider, given: set[str], file: str, name: str) -> frozenset[str]:
    """The one way to authenticate that the given keys describe, or a ConfigError naming what
    is missing or what does not belong together."""
    modes = _AUTH_MODES[provider]
    for needed, extra in modes:
        if needed <= given <= needed | extra:
            return needed
    if not given:
        ways = " or ".join(", ".join(sorted(needed)) for needed, _ in modes)
        raise ConfigError(
            file, f"is missing (give {ways})", source=name, key=sorted(modes[0][0])[0]
        )
    if "token" in given and len(given) > 1:
        others = ", ".join(sorted(given - {"token", "auth_header"}))
        message = f"a fixed token and token-obtaining keys ({others}) are both given: use one"
        raise ConfigError(file, message, source=name, key="token")
    # The mode the given keys come closest to: say which of its keys are missing.
    needed, extra = max(modes, key=lambda mode: len(given & (mode[0] | mode[1])))
    missing = sorted(needed - given)
    if missing:
        with_keys = ", ".join(sorted(given & needed))
        message = f"is missing (with {with_keys}, also give {', '.join(missing)})"
        raise ConfigError(file, message, source=name, key=missing[0])
    stray = sorted(given - needed - extra)[0]
    raise ConfigError(file, f"does not go with {', '.join(sorted(needed))}", source=name, key=stray)


def _private_key(path: str, file: str, name: str) -> str:
    """The PEM text of an RSA private key file (the JWT bearer flow signs with it)."""
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    try:
        pem = Path(path).read_bytes()
    except OSError as exc:
        message = f"cannot read {path} ({exc.strerror or exc})"
        raise ConfigError(file, message, source=name, key="private_key_file") from None
    try:
        load_pem_private_key(pem, password=None)
    except (ValueError, TypeError):
        message = f"{path} is not an unencrypted PEM private key"
        raise ConfigError(file, message, source=name, key="private_key_file") from None
    return pem.decode("ascii")


_IDEMPOTENCY_TYPES: dict[str, type] = {
    "redis_url": str,
    "path": str,
    "ttl_seconds": float,
    "max_keys": int,
}


def _idempotency(
    table: dict[str, Any], file: str, environ: Mapping[str, str]
) -> IdempotencySettings:
    values: dict[str, Any] = {}
    for key, raw in table.items():
        where = f"[idempotency] {key}"
        if key not in _IDEMPOTENCY_TYPES:
            raise ConfigError(file, "unknown key", key=where)
        value = _expand(raw, file, None, where, environ)
        values[key] = _typed(value, _IDEMPOTENCY_TYPES[key], file, None, where)
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
        _check_redis_options(values["redis_url"], file)
    return IdempotencySettings(**values)


def _check_redis_options(url: str, file: str) -> None:
    """What redis-py would only trip over when it first connects, said at start-up instead."""
    from redis.connection import URL_QUERY_ARGUMENT_PARSERS, parse_url

    parse: Callable[[str], dict[str, object]] = parse_url  # redis-py leaves it unannotated
    where = "[idempotency] redis_url"
    try:
        parsed = parse(url)
    except ValueError as exc:  # redis-py's message names the option, never the URL
        raise ConfigError(file, str(exc), key=where) from None
    known = {"host", "port", "db", "username", "password", "path", "connection_class"}
    unknown = sorted(set(parsed) - known - set(URL_QUERY_ARGUMENT_PARSERS))
    if unknown:
        raise ConfigError(file, f"unknown connection option {unknown[0]!r}", key=where)
