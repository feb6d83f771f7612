"""The provider-neutral service behind the schema: route ids to sources, batch, de-duplicate."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Mapping, Sequence

from jobgate.domain import ActionOutcome, ActionRequest, Job, JobError, JobId, parse_job_id
from jobgate.domain.errors import ErrorCode
from jobgate.domain.ids import MAX_ID_LENGTH
from jobgate.domain.rules import unsupported
from jobgate.principal import Principal
from jobgate.providers.base import JobProvider, gather_all


class Gateway:
    def __init__(self, providers: Mapping[str, JobProvider]) -> None:
        self.providers = dict(providers)
        self.restricted = False  # a view for a principal limited to some sources

    def scoped(self, principal: Principal) -> Gateway:
        """This gateway as ``principal`` sees it: only its sources (a view; nothing is copied)."""
        if principal.sources is None:
            return self
        view = copy.copy(self)  # shares every provider and whatever state they keep
        view.providers = {n: p for n, p in self.providers.items() if principal.may_use(n)}
        view.restricted = True
        return view

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers.values()))

    def parse(self, raw_id: str) -> JobId | JobError:
        source, colon, _ = raw_id.partition(":")
        if self.restricted and colon and source not in self.providers:
            # Configured elsewhere or not at all: the answer is the same, so that a restricted
            # caller cannot tell which other sources exist. Nothing reaches an upstream.
            if len(raw_id) <= MAX_ID_LENGTH:
                return JobError(ErrorCode.FORBIDDEN, "This job's source is not available to you.")
        return parse_job_id(raw_id, self.providers)

    def _group(self, raw_ids: Sequence[str]) -> tuple[list[JobId | JobError], dict[str, list[str]]]:
        """Parse every id; collect each source's distinct native ids in first-seen order."""
        parsed = [self.parse(raw) for raw in raw_ids]
        by_source: dict[str, dict[str, None]] = {}
        for job_id in parsed:
            if isinstance(job_id, JobId):
                by_source.setdefault(job_id.source, {})[job_id.native_id] = None
        return parsed, {source: list(ids) for source, ids in by_source.items()}

    async def read_jobs(self, raw_ids: Sequence[str]) -> list[Job | JobError | None]:
        """One upstream read per distinct id; sources are read concurrently."""
        parsed, by_source = self._group(raw_ids)
        sources = list(by_source)
        answers = await gather_all([self.providers[s].read_jobs(by_source[s]) for s in sources])
        found: dict[tuple[str, str], Job | JobError | None] = {}
        for source, answer in zip(sources, answers, strict=True):
            for native_id, result in zip(by_source[source], answer, strict=True):
                found[source, native_id] = result
        return [
            found[job_id.source, job_id.native_id] if isinstance(job_id, JobId) else job_id
            for job_id in parsed
        ]

    async def perform(self, request: ActionRequest, raw_ids: Sequence[str]) -> list[ActionOutcome]:
        """Apply one action to each id; every source gets its distinct ids in one call."""
        parsed, by_source = self._group(raw_ids)
        outcomes: dict[tuple[str, str], ActionOutcome] = {}
        calls: list[str] = []
        for source, native_ids in by_source.items():
            provider = self.providers[source]
            if not provider.rules.offers(request.action, batch=request.batch):
                refusal = unsupported(provider.provider, request.action, batch=request.batch)
                outcomes.update({(source, n): refusal for n in native_ids})
            else:
                calls.append(source)
        answers = await gather_all(
            [self.providers[s].perform(request, by_source[s]) for s in calls]
        )
        for source, answer in zip(calls, answers, strict=True):
            for native_id, outcome in zip(by_source[source], answer, strict=True):
                outcomes[source, native_id] = outcome
        return [
            outcomes[job_id.source, job_id.native_id] if isinstance(job_id, JobId) else job_id
            for job_id in parsed
        ]
