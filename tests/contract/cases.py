"""What the contract suite needs to know about each provider beyond the Protocol.

A new provider is done when it has a case here and passes tests/contract/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from jobgate.domain import (
    ActionRequest,
    JobAction,
    JobResultStatus,
    JobUpdate,
    Provider,
    bigchange,
    content_hub,
    data_cloud,
    workflow_manager,
)
from jobgate.domain.bigchange import BIGCHANGE
from jobgate.domain.content_hub import CONTENT_HUB
from jobgate.domain.data_cloud import DATA_CLOUD
from jobgate.domain.rules import StateTable
from jobgate.domain.workflow_manager import WORKFLOW_MANAGER
from jobgate.simulators import bigchange as bigchange_sim
from jobgate.simulators import content_hub as content_hub_sim
from jobgate.simulators import data_cloud as data_cloud_sim
from jobgate.simulators import workflow_manager as workflow_manager_sim
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
    token_path: str  # regex: the path(s) of the token endpoint(s) the source renews tokens at
    # The simulator's tokens: make the ones issued expire now, or give new ones a lifetime.
    expire_tokens: Callable[[Any], None]
    token_lifetime: Callable[[Any, float], None]
    # A request that the upstream accepts when the job's state allows the action.
    request_for: Callable[[JobAction, Any, str], ActionRequest] = lambda action, store, native_id: (
        ActionRequest(action)
    )
    # The vendor's list or search endpoint (searchJobs).
    list_method: str = "GET"
    list_path: str = ""

    def writes(self, faults: FaultyTransport) -> int:
        return sum(faults.calls(m, self.write_path) for m in self.write_methods)

    def __str__(self) -> str:
        return self.provider.key


def bigchange_request(action: JobAction, store: Any, native_id: str) -> ActionRequest:
    """An update or a result the simulator accepts for its demo job types ("Fixed" is positive)."""
    if action is JobAction.UPDATE:
        return ActionRequest(action, update=JobUpdate(changes={"reference": "C-1"}))
    return ActionRequest(action, result_status=JobResultStatus.COMPLETED_OK, result="Fixed")


def _book(store: Any) -> Any:
    """The simulator's TokenBook (Workflow Manager calls the one of issued tokens `issued`)."""
    return store.issued if hasattr(store, "issued") else store.tokens


def _set_lifetime(store: Any, seconds: float) -> None:
    if hasattr(store, "token_lifetime"):  # BigChange keeps its own scoped tokens
        store.token_lifetime = seconds
    else:
        _book(store).lifetime = seconds


def _expire(store: Any) -> None:
    if hasattr(store, "expire_tokens"):
        store.expire_tokens()
    else:
        _book(store).expire_all()


CASES: list[ProviderCase] = [
    ProviderCase(
        provider=DATA_CLOUD,
        rules=data_cloud.RULES,
        simulator=data_cloud_sim,
        read_path=r".*/api/v1/ingest/jobs/[^/]+",
        write_methods=("PATCH", "DELETE"),
        write_path=r".*/api/v1/ingest/jobs/[^/]+",
        missing_id="7505e000009ZZZZAAW",
        list_path=r".*/api/v1/ingest/jobs",
        token_path=r".*/services/(oauth2|a360)/token",
        expire_tokens=_expire,
        token_lifetime=_set_lifetime,
    ),
    ProviderCase(
        provider=CONTENT_HUB,
        rules=content_hub.RULES,
        simulator=content_hub_sim,
        read_path=r".*/api/fetchjobs/[^/]+",
        write_methods=("PUT", "POST", "DELETE"),
        write_path=r".*/api/fetchjobs(/[^/]+)?",
        missing_id="999999",
        list_path=r".*/api/fetchjobs",
        token_path=r".*/oauth/token",
        expire_tokens=_expire,
        token_lifetime=_set_lifetime,
    ),
    ProviderCase(
        provider=BIGCHANGE,
        rules=bigchange.RULES,
        simulator=bigchange_sim,
        read_path=r".*/v1/jobs/\d+",
        write_methods=("PATCH", "PUT"),
        write_path=r".*/v1/jobs/\d+(/result|/start)?",
        missing_id="424242",
        list_path=r".*/v1/jobs",
        token_path=r".*/auth/tokens",
        expire_tokens=_expire,
        token_lifetime=_set_lifetime,
        request_for=bigchange_request,
    ),
    ProviderCase(
        provider=WORKFLOW_MANAGER,
        rules=workflow_manager.RULES,
        simulator=workflow_manager_sim,
        read_path=r".*/jobs/[^/]+",
        write_methods=("POST",),
        write_path=r".*/jobs/(manage|[^/]+/action)",
        missing_id="jNoSuch1",
        list_method="POST",
        list_path=r".*/jobs/search",
        token_path=r".*/oauth2/token",
        expire_tokens=_expire,
        token_lifetime=_set_lifetime,
    ),
]
