"""Per-request context: the gateway and a fresh DataLoader, so reads batch within one request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from jobgate.config import ServerSettings
from jobgate.domain import Job, JobError
from jobgate.domain.principal import ANONYMOUS, Principal
from jobgate.gateway import Gateway
from jobgate.metrics import metrics
from jobgate.upstream.resilience import CircuitBreaker
from jobgate.watch import Watcher


@dataclass
class Context:
    gateway: Gateway
    server: ServerSettings
    request_id: str
    # Each source's circuit breakers, for `sources { healthy }`; empty when not known.
    breakers: Mapping[str, Sequence[CircuitBreaker]] = field(default_factory=dict)
    # The caller; ``gateway`` is already the view of it (only its sources).
    principal: Principal = ANONYMOUS
    # Retrying an Idempotency-Key whose earlier attempt may have applied the mutation.
    resuming: bool = False
    # Live updates (jobUpdated); None where the app runs none.
    watcher: Watcher | None = None
    job_loader: DataLoader[str, Job | JobError | None] = field(init=False)

    def __post_init__(self) -> None:
        # The loader must not refer back to this Context: the cycle would keep the request's
        # state for the garbage collector to find, instead of freeing it when the request ends.
        gateway = self.gateway

        async def load(raw_ids: Sequence[str]) -> list[Job | JobError | None]:
            metrics().dataloader_batch_size.observe(len(raw_ids))
            return await gateway.read_jobs(raw_ids)

        self.job_loader = DataLoader(load_fn=load)
