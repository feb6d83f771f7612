"""Turns a provider's state table into statuses, allowed actions and refusals.

Every provider describes its lifecycle as a ``StateTable``; ``allowedActions`` and the pre-check a
mutation runs before writing both come from the same table, so they cannot disagree.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from jobgate.domain.errors import ErrorCode, JobError
from jobgate.domain.jobs import JobAction, JobStatus
from jobgate.domain.providers import Provider


@dataclass(frozen=True, slots=True)
class StateTable:
    """A provider's lifecycle: its states' neutral status and the actions each state accepts."""

    provider: Provider
    statuses: Mapping[str, JobStatus]
    allowed: Mapping[str, frozenset[JobAction]]
    supported: frozenset[JobAction]
    # The actions this provider offers through manageJobs (a batch of jobs in one call).
    batch: frozenset[JobAction] = frozenset()
    # Status given to a state the vendor added after this table was written: accepting nothing
    # is the only safe reading of a state we do not know.
    unknown_status: JobStatus = JobStatus.IN_PROGRESS

    def __post_init__(self) -> None:
        for state, actions in self.allowed.items():
            if state not in self.statuses:
                raise ValueError(f"{self.provider.key}: actions for unknown state {state}")
            if not actions <= self.supported:
                raise ValueError(f"{self.provider.key}: {state} allows unsupported actions")
        if not self.batch <= self.supported:
            raise ValueError(f"{self.provider.key}: batch actions must be supported actions")

    def status_of(self, state: str) -> JobStatus:
        return self.statuses.get(state, self.unknown_status)

    def states_of(self, statuses: Collection[JobStatus] | None) -> frozenset[str] | None:
        """The vendor states that map to any of ``statuses`` (None: no condition), for a
        filter pushed into a vendor's list request."""
        if statuses is None or self.unknown_status in statuses:
            return None  # states this table does not know may map to it: not expressible
        return frozenset(s for s, status in self.statuses.items() if status in statuses)

    def allowed_actions(self, state: str) -> frozenset[JobAction]:
        return self.allowed.get(state, frozenset())

    def offers(self, action: JobAction, *, batch: bool = False) -> bool:
        """Whether the provider has this operation at all (through manageJobs when ``batch``)."""
        return action in (self.batch if batch else self.supported)

    def refusal(self, action: JobAction, state: str) -> JobError | None:
        """Why ``action`` cannot be sent for a job in ``state``, or ``None`` when it can."""
        if action not in self.supported:
            return unsupported(self.provider, action)
        if action in self.allowed_actions(state):
            return None
        return invalid_state(action, state, self.allowed_actions(state))


def unsupported(provider: Provider, action: JobAction, *, batch: bool = False) -> JobError:
    how = " through manageJobs" if batch else ""
    return JobError(
        ErrorCode.UNSUPPORTED_ACTION,
        f"{provider.label} jobs do not support {action.verb}{how}.",
    )


def invalid_state(
    action: JobAction, state: str, accepted: frozenset[JobAction] = frozenset()
) -> JobError:
    accepts = ", ".join(sorted(a.verb for a in accepted)) or "no action"
    return JobError(
        ErrorCode.INVALID_STATE,
        f"Cannot {action.verb} a job in state '{state}' (it accepts: {accepts}).",
        provider_status=state,
    )
