"""``[sources.<name>]`` tables: the keys every source has, and the ones its vendor declares
(``Provider.keys``, found through ``jobgate.vendors``)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from jobgate.config.settings import ConfigError, OptionValue, SourceSettings
from jobgate.config.values import expand, typed
from jobgate.domain import Provider
from jobgate.domain.providers import KeyKind, OptionKey, SourceKeys
from jobgate.vendors import VENDORS

_SOURCE_NAME = re.compile(r"[A-Za-z0-9_-]{1,40}")
COMMON_KEYS = frozenset(
    {
        "provider",
        "base_url",
        "timeout",
        "connect_timeout",
        "max_concurrency",
        "retries",
        "breaker_failures",
        "breaker_cooldown",
        "coalesce_reads",
        "listing",
        "poll_interval",
        "max_answer_bytes",
        "read_client",
    }
)
# Source keys that are not strings (``retries`` is checked on its own: it may be 0).
_SOURCE_TYPES: dict[str, type] = {
    "timeout": float,
    "connect_timeout": float,
    "max_concurrency": int,
    "breaker_failures": int,
    "breaker_cooldown": float,
    "coalesce_reads": bool,
    "listing": bool,
    "poll_interval": float,
    "max_answer_bytes": int,
}
_URL_KEYS = ("base_url", "token_url", "login_url")
MAX_RETRIES = 5
READ_CLIENTS = ("lean", "aiohttp")
_FIELDS = frozenset(f.name for f in fields(SourceSettings))


def source_settings(name: str, provider: Provider, values: Mapping[str, Any]) -> SourceSettings:
    """Checked values as a SourceSettings: the vendor's own keys go to ``options``."""
    own = {k: v for k, v in values.items() if k in _FIELDS}
    options: dict[str, OptionValue] = {k: v for k, v in values.items() if k not in _FIELDS}
    return SourceSettings(name=name, provider=provider, **own, options=options)


def parse_source(
    name: str, keys: dict[str, Any], file: str, environ: Mapping[str, str]
) -> SourceSettings:
    if not _SOURCE_NAME.fullmatch(name):
        raise ConfigError(
            file, "source names use letters, digits, '_' or '-' (at most 40)", source=name
        )
    provider = _provider(name, keys, file)
    spec = provider.keys
    for key in keys:
        if key not in COMMON_KEYS | spec.all:
            raise ConfigError(
                file, f"unknown key for provider {provider.key}", source=name, key=key
            )
    mode = _auth_mode(spec, set(keys) & spec.auth_keys, file, name)
    needs_base = not (mode & spec.base_url_comes_with)
    for key in sorted(({"base_url"} if needs_base else set()) | spec.required):
        if key not in keys:
            raise ConfigError(file, "is missing", source=name, key=key)
    values: dict[str, Any] = {}
    for key, raw in keys.items():
        if key != "provider":
            values[key] = _value(key, raw, spec, file, name, environ)
    for key in _URL_KEYS:
        if key in values:
            url = urlsplit(values[key])
            if url.scheme not in ("http", "https") or not url.netloc:
                raise ConfigError(file, "must be an http(s) URL", source=name, key=key)
            values[key] = values[key].rstrip("/")
    if "private_key_file" in values:
        values["private_key"] = _private_key(values["private_key_file"], file, name)
    return source_settings(name, provider, values)


def _provider(name: str, keys: Mapping[str, Any], file: str) -> Provider:
    if "provider" not in keys:
        raise ConfigError(file, "is missing", source=name, key="provider")
    vendor = VENDORS.by_key(str(keys["provider"]))
    if vendor is None:
        known = " | ".join(p.key for p in VENDORS.providers)
        message = f"unknown provider {keys['provider']!r} (use {known})"
        raise ConfigError(file, message, source=name, key="provider")
    return vendor.provider


def _value(
    key: str, raw: Any, spec: SourceKeys, file: str, name: str, environ: Mapping[str, str]
) -> Any:
    value = expand(raw, file, name, key, environ)
    if key in spec.options:
        return _option(key, value, spec.options[key], file, name, environ)
    if key == "retries":  # the one number that may be 0
        whole = isinstance(value, int) and not isinstance(value, bool)
        if not whole or not 0 <= value <= MAX_RETRIES:
            message = f"must be a whole number from 0 to {MAX_RETRIES}"
            raise ConfigError(file, message, source=name, key=key)
        return value
    if key == "read_client" and value not in READ_CLIENTS:
        message = "must be " + " or ".join(f"'{client}'" for client in READ_CLIENTS)
        raise ConfigError(file, message, source=name, key=key)
    return typed(value, _SOURCE_TYPES.get(key, str), file, name, key)


def _option(
    key: str, value: Any, option: OptionKey, file: str, name: str, environ: Mapping[str, str]
) -> OptionValue:
    """One of the vendor's own keys, read as its ``OptionKey`` says."""
    if option.kind is KeyKind.TEXT_LIST:
        if not isinstance(value, list) or not value:
            raise ConfigError(file, "must be a non-empty list", source=name, key=key)
        expanded = [expand(v, file, name, key, environ) for v in value]
        if not all(isinstance(v, str) and v.strip() for v in expanded):
            raise ConfigError(file, "must list non-empty strings", source=name, key=key)
        return tuple(expanded)
    if option.kind is KeyKind.DIGITS:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        text: str = typed(value, str, file, name, key)
        if not text.isdigit():
            raise ConfigError(file, "must be a whole number", source=name, key=key)
        return text
    text = typed(value, str, file, name, key)
    if option.choices and text not in option.choices:
        allowed = " or ".join(f"'{choice}'" for choice in option.choices)
        raise ConfigError(file, f"must be {allowed}", source=name, key=key)
    return text


def _auth_mode(spec: SourceKeys, given: set[str], file: str, name: str) -> frozenset[str]:
    """The one way to authenticate that the given keys describe, or a ConfigError naming what
    is missing or what does not belong together."""
    modes = spec.auth
    for needed, extra in modes:
        if needed <= given <= needed | extra:
            return needed
    if not given:
        ways = " or ".join(", ".join(sorted(needed)) for needed, _ in modes)
        raise ConfigError(
            file, f"is missing (give {ways})", source=name, key=sorted(modes[0][0])[0]
        )
    if "token" in given and len(given) > 1:
        with_token = frozenset().union(*(extra for needed, extra in modes if needed == {"token"}))
        others = ", ".join(sorted(given - {"token"} - with_token))
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
