"""What a vendor is to the rest of jobgate: its names, and how a source of it is configured.

A ``Provider`` is a plain value declared once, in the vendor's own domain module
(``domain/content_hub.py``'s ``CONTENT_HUB``), and registered with ``jobgate.vendors``. Two
providers are the same only if they are the same object.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import Enum

# One way to authenticate: the keys it needs, and keys it may also take.
AuthMode = tuple[frozenset[str], frozenset[str]]

_GRAPHQL_NAME = re.compile(r"[A-Z][A-Z0-9_]*")
_CONFIG_NAME = re.compile(r"[a-z][a-z0-9-]*")


class KeyKind(Enum):
    """How a vendor's own config key is read."""

    TEXT = "text"  # a non-empty string
    DIGITS = "digits"  # a whole number (TOML may write it as a number), kept as its digits
    TEXT_LIST = "text-list"  # a non-empty list of non-empty strings


@dataclass(frozen=True, slots=True)
class OptionKey:
    """A config key only this vendor has; its value lands in ``SourceSettings.options``."""

    kind: KeyKind = KeyKind.TEXT
    choices: tuple[str, ...] = ()  # TEXT: the values it may take (empty: any)


@dataclass(frozen=True, slots=True)
class SourceKeys:
    """The keys of a ``[sources.<name>]`` table for this vendor, beyond the common ones
    (``base_url``, timeouts, retries, ...)."""

    # Ways to authenticate; a source uses exactly one. Their keys are SourceSettings fields
    # (credentials, whose values are kept out of every answer and log line) or options.
    auth: tuple[AuthMode, ...]
    required: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    options: Mapping[str, OptionKey] = field(default_factory=dict)
    # Auth keys with which ``base_url`` may be left out (Data Cloud: the token exchange
    # answers the instance's URL).
    base_url_comes_with: frozenset[str] = frozenset()

    @property
    def auth_keys(self) -> frozenset[str]:
        return frozenset().union(*(needed | extra for needed, extra in self.auth))

    @property
    def all(self) -> frozenset[str]:
        return self.required | self.optional | self.auth_keys


@dataclass(frozen=True, eq=False, slots=True)
class Provider:
    """A vendor jobgate can front."""

    name: str  # the GraphQL enum value: CONTENT_HUB
    key: str  # the name config files use: content-hub
    label: str  # the name messages use: Content Hub
    keys: SourceKeys

    def __post_init__(self) -> None:
        if not _GRAPHQL_NAME.fullmatch(self.name):
            raise ValueError(f"provider name {self.name!r} is not an upper-case GraphQL name")
        if not _CONFIG_NAME.fullmatch(self.key):
            raise ValueError(f"provider key {self.key!r} must be lower-case words joined by '-'")
        _DECLARED.setdefault(self.key, self)

    def __repr__(self) -> str:
        return f"Provider({self.name})"

    def __reduce__(self) -> tuple[Callable[[str], Provider], tuple[str]]:
        """A Provider is compared by identity: one sent to another process (live updates
        shared through Redis) comes back as that process's own."""
        return declared, (self.key,)


_DECLARED: dict[str, Provider] = {}


def declared(key: str) -> Provider:
    """The Provider declared under ``key`` in this process (the first one, if several)."""
    return _DECLARED[key]
