"""What the contract suite needs to know about each provider beyond the Protocol.

A new provider is done when it has a case here and passes tests/contract/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from jobgate.domain import ActionRequest, JobAction, Provider, content_hub, data_cloud
from jobgate.domain.rules import StateTable
from jobgate.simulators import content_hub as content_hub_sim
from jobgate.simulators import data_cloud as data_cloud_sim
from jobgate.simulators.faults import FaultyTransport


@dataclass(frozen=True)
class ProviderCase:
    provider: Provider
    rules: StateTable
    simulator: ModuleType  # has SCENARIOS and create_in(store, scenario) -> native id
    read_path: str  # regex: the path of a single-job read
    write_methods: tuple[str, ...]  # the HTTP methods that change something upstream
    write_path: str  # regex: the paths writes go to
    missing_id: str  # a well-formed native id the simulator does not have
    # A request that the upstream accepts when the job's state allows the action.
    request_for: Callable[[JobAction, Any, str], ActionRequest] = lambda action, store, native_id: (
        ActionRequest(action)
    )

    def writes(self, faults: FaultyTransport) -> int:
        return sum(faults.calls(m, self.write_path) for m in self.write_methods)

    def __str__(self) -> str:
        return self.provider.value


CASES: list[ProviderCase] = [
    ProviderCase(
        provider=Provider.DATA_CLOUD,
        rules=data_cloud.RULES,
        simulator=data_cloud_sim,
        read_path=r".*/api/v1/ingest/jobs/[^/]+",
        write_methods=("PATCH", "DELETE"),
        write_path=r".*/api/v1/ingest/jobs/[^/]+",
        missing_id="7505e000009ZZZZAAW",
    ),
    ProviderCase(
        provider=Provider.CONTENT_HUB,
        rules=content_hub.RULES,
        simulator=content_hub_sim,
        read_path=r".*/api/fetchjobs/[^/]+",
        write_methods=("PUT", "POST", "DELETE"),
        write_path=r".*/api/fetchjobs(/[^/]+)?",
        missing_id="999999",
    ),
]
