"""Per-request context: the gateway and a fresh DataLoader, so reads batch within one request."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from strawberry.dataloader import DataLoader

from jobgate.config import ServerSettings
from jobgate.domain import Job, JobError
from jobgate.gateway import Gateway


@dataclass
class Context:
    gateway: Gateway
    server: ServerSettings
    request_id: str
    job_loader: DataLoader[str, Job | JobError | None] = field(init=False)

    def __post_init__(self) -> None:
        async def load(raw_ids: Sequence[str]) -> list[Job | JobError | None]:
            return await self.gateway.read_jobs(raw_ids)

        self.job_loader = DataLoader(load_fn=load)
