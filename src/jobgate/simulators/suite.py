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
    options: dict[str, Any] = field(default_factory=dict)  # credentials etc. for SourceSettings
    base_path: str = ""  # appended to the mount to form the source's base_url

    @property
    def store(self) -> Any:
        return self.app.state.store

    def source_settings(self, origin: str, **overrides: Any) -> SourceSettings:
        values = {"base_url": origin.rstrip("/") + self.mount + self.base_path, **self.options}
        values.update(overrides)
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
            options={"token": data_cloud.DEMO_TOKEN},
        ),
        SimulatedVendor(
            provider=Provider.CONTENT_HUB,
            source="hub",
            mount="/content-hub",
            app=content_hub.create_app(hub_store),
            options={"token": content_hub.DEMO_TOKEN},
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
            options={"token": workflow_manager.DEMO_TOKEN},
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
        lines.append(f'base_url = "{origin.rstrip("/")}{vendor.mount}{vendor.base_path}"')
        lines += [f'{key} = "{value}"' for key, value in vendor.options.items()]
        lines.append("")
    return "\n".join(lines)
