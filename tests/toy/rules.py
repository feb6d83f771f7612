"""Toy Jobs' domain: its Provider, its lifecycle and its jobs' own fields (no I/O here)."""

from __future__ import annotations

from dataclasses import dataclass

from jobgate.domain import JobAction, JobDetails, JobStatus, Provider
from jobgate.domain.providers import SourceKeys
from jobgate.domain.rules import StateTable

TOY = Provider(
    name="TOY",
    key="toy",
    label="Toy Jobs",
    keys=SourceKeys(
        auth=(
            (frozenset({"token"}), frozenset()),
            (frozenset({"client_id", "client_secret"}), frozenset()),
        ),
    ),
)

STOPPED = "stopped"
# queued -> running -> done; queued and running jobs can be stopped.
RULES = StateTable(
    provider=TOY,
    statuses={
        "queued": JobStatus.QUEUED,
        "running": JobStatus.IN_PROGRESS,
        "done": JobStatus.COMPLETED,
        STOPPED: JobStatus.CANCELLED,
    },
    allowed={"queued": frozenset({JobAction.CANCEL}), "running": frozenset({JobAction.CANCEL})},
    supported=frozenset({JobAction.CANCEL}),
)


@dataclass(frozen=True, slots=True)
class ToyDetails(JobDetails):
    title: str | None
