"""The provider-neutral service behind the schema: route ids to sources, batch, de-duplicate."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence

from jobgate.domain import ActionOutcome, ActionRequest, Job, JobError, JobId, parse_job_id
from jobgate.domain.rules import unsupported
from jobgate.providers.base import JobProvider


class Gateway:
    def __init__(self, providers: Mapping[str, JobProvider]) -> None:
        self.providers = dict(providers)

    async def aclose(self) -> None:
        await asyncio.gather(*(p.aclose() for p in self.providers.values()))

    def parse(self, raw_id: str) -> JobId | JobError:
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
        answers = await asyncio.gather(
            *(self.providers[s].read_jobs(by_source[s]) for s in sources)
        )
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
        answers = await asyncio.gather(
            *(self.providers[s].perform(request, by_source[s]) for s in calls)
        )
        for source, answer in zip(calls, answers, strict=True):
            for native_id, outcome in zip(by_source[source], answer, strict=True):
                outcomes[source, native_id] = outcome
        return [
            outcomes[job_id.source, job_id.native_id] if isinstance(job_id, JobId) else job_id
            for job_id in parsed
        ]
