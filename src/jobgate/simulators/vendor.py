"""What a simulator module offers the suite: a running vendor and the source that reaches it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette

from jobgate.config import SourceSettings, source_settings
from jobgate.domain import Provider


@dataclass
class SimulatedVendor:
    """One vendor's simulator and the source a gateway would configure for it."""

    provider: Provider
    source: str  # the demo's source name, which prefixes job ids
    mount: str  # where the suite serves it
    app: Starlette
    # Credentials etc. for SourceSettings; "{root}" in a value is where the vendor is served.
    options: dict[str, Any] = field(default_factory=dict)
    base_path: str = ""  # appended to the mount to form the source's base_url
    # Data Cloud: no base_url in the config; the token exchange's instance_url is used.
    base_from_token: bool = False

    @property
    def store(self) -> Any:
        return self.app.state.store

    def config(self, origin: str, **overrides: Any) -> dict[str, Any]:
        """The source's config keys (what a [sources.<name>] table would hold)."""
        root = origin.rstrip("/") + self.mount
        values: dict[str, Any] = {}
        if not self.base_from_token or "token" in overrides:  # a fixed token needs a base_url
            values["base_url"] = root + self.base_path
        for key, value in self.options.items():
            values[key] = value.format(root=root) if isinstance(value, str) else value
        values.update(overrides)
        return values

    def source_settings(self, origin: str, **overrides: Any) -> SourceSettings:
        values = self.config(origin, **overrides)
        return source_settings(self.source, self.provider, values)
