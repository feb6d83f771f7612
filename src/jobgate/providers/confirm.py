"""Write, then confirm: the one way a change reaches an upstream and is reported to the caller.

1. Read the jobs (one batched read) and run the change's own pre-check on each. A job that does
   not exist, or whose state refuses the change, gets its error, and nothing is sent for it.
2. Send the write once: one request per job, or one for all of them (``Change.together``).
   Nothing repeats it, neither the channel (writes are never retried) nor the HTTP client
   (``transport.py``); the only second request is the channel's after a refused token.
3. Judge the answer. A 4xx refused the change: its words are the answer. A 2xx whose body proves
   the change (the job it returns shows it) is the answer. Anything else leaves the outcome
   open: a 2xx that proves nothing (Content Hub's and BigChange's 204, Workflow Manager's
   ``{"success": ..}``), a 2xx that cannot be read, a 5xx, a timeout or a dropped connection
   after the request was sent.
4. Settle an open outcome by reading the jobs back: the change visible means success, whatever
   the upstream answered; a job that is gone is NOT_FOUND (or the success of a delete); a job now
   in a state that refuses the change is INVALID_STATE; otherwise the upstream's own error when
   it gave a definite one (a 5xx, ``success: false``), else OUTCOME_UNKNOWN.

Adapters state only their rules and their wire format, as a ``Change``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

import httpx

from jobgate.domain import (
    ActionOutcome,
    AlreadyApplied,
    Deleted,
    ErrorCode,
    Job,
    JobAction,
    JobError,
    JobFailure,
)
from jobgate.domain.rules import invalid_state
from jobgate.providers.fanout import gather_all
from jobgate.upstream.channel import Channel
from jobgate.upstream.guard import WriteUncertain

Read = Callable[[Sequence[str]], Awaitable[list[Job | JobError | None]]]


@dataclass(frozen=True, slots=True)
class Write:
    """The one request a change sends."""

    method: str
    path: str
    body: Any = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The upstream refused the change for every job in the write: nothing was changed."""

    error: JobError


@dataclass(frozen=True, slots=True)
class Proven:
    """The answer itself shows the change applied to this job."""

    job: Job


@dataclass(frozen=True, slots=True)
class Open:
    """The answer does not settle it: read the jobs back. ``why`` is what the upstream said;
    ``definite`` when it said the change failed (a job that does not show the change then gets
    ``why`` itself, not OUTCOME_UNKNOWN)."""

    why: JobError
    definite: bool = False


Verdict = Refused | Proven | Open


class Source(Protocol):
    """What the protocol needs of an adapter."""

    @property
    def source(self) -> str: ...

    @property
    def http(self) -> Channel: ...

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]: ...

    def error(self, response: httpx.Response) -> JobError: ...


class Change:
    """One action as an adapter defines it. Subclasses give ``write`` and ``missing``, and
    refine the rest where their vendor needs it."""

    together = False  # one write for every job (a batch endpoint) instead of one per job
    deletes = False  # success is the job being gone

    def __init__(self, action: JobAction, upstream: Source) -> None:
        self.action = action
        self.upstream = upstream

    async def refusal(self, job: Job) -> JobError | None:
        """Why ``job`` must not be sent this change (the pre-check; also run on a read-back).

        By default the provider's rules as the job carries them: its ``allowed_actions``."""
        if self.action in job.allowed_actions:
            return None
        return invalid_state(self.action, job.provider_status, job.allowed_actions)

    def write(self, jobs: Sequence[Job]) -> Write:
        """The request that applies the change to ``jobs`` (one job unless ``together``)."""
        raise NotImplementedError

    def missing(self, job: Job) -> list[str]:
        """What ``job``, read back, does not show of the change yet; empty when it is applied."""
        raise NotImplementedError

    def judge(self, response: httpx.Response, jobs: Sequence[Job]) -> Verdict:
        """What a 2xx answer says. By default nothing: the jobs are read back."""
        said = (
            f"Source '{self.upstream.source}' accepted the {self.action.verb} "
            f"(HTTP {response.status_code}) but its answer does not show the job."
        )
        return Open(JobError(ErrorCode.OUTCOME_UNKNOWN, said, upstream_status=response.status_code))

    async def refused(self, response: httpx.Response, jobs: Sequence[Job]) -> JobError:
        """The error for a 4xx answer (the upstream refused; nothing was changed)."""
        return self.upstream.error(response)


async def perform_change(
    change: Change, native_ids: Sequence[str], *, resume: bool = False
) -> list[ActionOutcome]:
    """Apply ``change`` to each job: one outcome per id, in order, each one seen to be true.

    ``resume``: an earlier attempt may have applied the change (an Idempotency-Key whose first
    request died or answered OUTCOME_UNKNOWN); a job that already shows it is not written to.
    """
    upstream = change.upstream
    distinct = list(dict.fromkeys(native_ids))
    outcomes: dict[str, ActionOutcome] = {}
    ready: list[Job] = []
    for native_id, seen in zip(distinct, await upstream.read_jobs(distinct), strict=True):
        if seen is None and resume and change.deletes:
            outcomes[native_id] = AlreadyApplied(Deleted(upstream.source, native_id))
        elif seen is None:
            outcomes[native_id] = JobError(
                ErrorCode.NOT_FOUND, f"Job '{upstream.source}:{native_id}' does not exist."
            )
        elif isinstance(seen, JobError):
            outcomes[native_id] = seen
        elif resume and not change.missing(seen):
            outcomes[native_id] = AlreadyApplied(seen)
        elif (refusal := await change.refusal(seen)) is not None:
            outcomes[native_id] = refusal
        else:
            ready.append(seen)
    writes = ([ready] if ready else []) if change.together else [[job] for job in ready]
    for settled in await gather_all([_write_and_settle(change, jobs) for jobs in writes]):
        outcomes.update(settled)
    return [outcomes[native_id] for native_id in native_ids]


async def _write_and_settle(change: Change, jobs: list[Job]) -> dict[str, ActionOutcome]:
    upstream = change.upstream
    ids = [job.native_id for job in jobs]
    write = change.write(jobs)
    try:
        response = await upstream.http.write(write.method, write.path, json=write.body)
    except WriteUncertain as lost:
        verdict: Verdict = Open(lost.error)
    except JobFailure as failure:  # never sent: a refused connection, an open circuit, no slot
        return dict.fromkeys(ids, failure.error)
    else:
        verdict = await _judge(change, response, jobs)
    if isinstance(verdict, Refused):
        return dict.fromkeys(ids, verdict.error)
    if isinstance(verdict, Proven):
        if ids == [verdict.job.native_id]:
            return {verdict.job.native_id: verdict.job}
        other = f"Source '{upstream.source}' answered the {change.action.verb} with another job."
        verdict = Open(JobError(ErrorCode.OUTCOME_UNKNOWN, other))
    after = await upstream.read_jobs(ids)
    return {
        native_id: await _settle(change, native_id, seen, verdict)
        for native_id, seen in zip(ids, after, strict=True)
    }


async def _judge(change: Change, response: httpx.Response, jobs: Sequence[Job]) -> Verdict:
    status = response.status_code
    if 200 <= status < 300:
        try:
            return change.judge(response, jobs)
        except JobFailure as garbled:  # a 2xx whose body cannot be read proves nothing
            return Open(
                replace(garbled.error, code=ErrorCode.OUTCOME_UNKNOWN, upstream_status=status)
            )
    if status >= 500:
        # It may have failed after applying the change (or a proxy timed out waiting for it).
        return Open(change.upstream.error(response), definite=True)
    return Refused(await change.refused(response, jobs))


async def _settle(
    change: Change, native_id: str, seen: Job | JobError | None, verdict: Open
) -> ActionOutcome:
    """One job's outcome from what reading it back shows: a change counts only when seen."""
    why = verdict.why
    source = change.upstream.source
    if isinstance(seen, JobError):
        return JobError(
            ErrorCode.OUTCOME_UNKNOWN,
            f"{why.message} Reading the job back failed too: {seen.message}",
            upstream_status=why.upstream_status,
        )
    if seen is None:
        if change.deletes:
            return Deleted(source, native_id)
        return JobError(
            ErrorCode.NOT_FOUND,
            f"{why.message} Read back, job '{source}:{native_id}' no longer exists.",
            upstream_status=why.upstream_status,
        )
    missing = change.missing(seen)
    if not missing:
        return seen
    refusal = await change.refusal(seen)
    if refusal is not None and refusal.code is ErrorCode.INVALID_STATE:
        # The job moved on to a state in which the change cannot happen any more.
        return replace(refusal, message=f"{why.message} Read back: {refusal.message}")
    shows = f"Read back, the job does not show the {change.action.verb}: {', '.join(missing)}."
    if verdict.definite:
        return replace(why, message=f"{why.message} {shows}", provider_status=seen.provider_status)
    return JobError(
        ErrorCode.OUTCOME_UNKNOWN,
        f"{why.message} {shows}",
        upstream_status=why.upstream_status,
        provider_status=seen.provider_status,
    )
