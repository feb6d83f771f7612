"""All simulators as one ASGI app, and the sources (config) that point at them.

``jobgate simulate`` serves this app over real HTTP; demo mode and tests call it in-process
through ``httpx.ASGITransport``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.applications import Starlette
from starlette.routing import Mount

from jobgate.config import SourceSettings
from jobgate.domain import Provider
from jobgate.simulators import bigchange, content_hub, data_cloud, workflow_manager


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
        return SourceSettings(name=self.source, provider=self.provider, **values)


def build_vendors(*, seeded: bool = True) -> list[SimulatedVendor]:
    dc_store = data_cloud.DataCloudStore()
    if seeded:
        data_cloud.seed(dc_store)
    hub_store = content_hub.ContentHubStore()
    if seeded:
        content_hub.seed(hub_store)
    bc_store = bigchange.BigChangeStore()
    if seeded:
        bigchange.seed(bc_store)
    wm_store = workflow_manager.WorkflowManagerStore()
    if seeded:
        workflow_manager.seed(wm_store)
    return [
        SimulatedVendor(
            provider=Provider.DATA_CLOUD,
            source="ingest",
            mount="/data-cloud",
            app=data_cloud.create_app(dc_store),
            options={
                "login_url": "{root}",
                "client_id": data_cloud.DEMO_CLIENT_ID,
                "client_secret": data_cloud.DEMO_CLIENT_SECRET,
            },
            base_from_token=True,
        ),
        SimulatedVendor(
            provider=Provider.CONTENT_HUB,
            source="hub",
            mount="/content-hub",
            app=content_hub.create_app(hub_store),
            options={
                "client_id": content_hub.DEMO_CLIENT_ID,
                "client_secret": content_hub.DEMO_CLIENT_SECRET,
                "username": content_hub.DEMO_USERNAME,
                "password": content_hub.DEMO_PASSWORD,
            },
        ),
        SimulatedVendor(
            provider=Provider.BIGCHANGE,
            source="field",
            mount="/bigchange",
            app=bigchange.create_app(bc_store),
            options={
                "client_id": bigchange.DEMO_CLIENT_ID,
                "client_secret": bigchange.DEMO_CLIENT_SECRET,
                "customer_id": bigchange.DEMO_CUSTOMER_ID,
            },
        ),
        SimulatedVendor(
            provider=Provider.WORKFLOW_MANAGER,
            source="gis",
            mount="/workflow-manager",
            base_path="/demoOrg/demoItem",
            app=workflow_manager.create_app(wm_store),
            options={
                "client_id": workflow_manager.DEMO_CLIENT_ID,
                "client_secret": workflow_manager.DEMO_CLIENT_SECRET,
                "token_url": "{root}" + workflow_manager.TOKEN_PATH,
            },
        ),
    ]


def suite_app(vendors: list[SimulatedVendor]) -> Starlette:
    return Starlette(routes=[Mount(v.mount, app=v.app) for v in vendors])


def sources_for(
    vendors: list[SimulatedVendor], origin: str, **overrides: Any
) -> Mapping[str, SourceSettings]:
    return {v.source: v.source_settings(origin, **overrides) for v in vendors}


def config_toml(vendors: list[SimulatedVendor], origin: str) -> str:
    """A config file that points a gateway at a running ``jobgate simulate``."""
    lines: list[str] = []
    for vendor in vendors:
        lines += [f"[sources.{vendor.source}]", f'provider = "{vendor.provider.value}"']
        lines += [f'{key} = "{value}"' for key, value in vendor.config(origin).items()]
        lines.append("")
    return "\n".join(lines)
