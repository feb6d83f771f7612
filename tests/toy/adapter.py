"""Toy Jobs' adapter: its wire format and its one change, on jobgate's shared machinery."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from jobgate.config import SourceSettings
from jobgate.domain import ActionRequest, Job, JobError
from jobgate.domain.listing import ListPage, ListQuery
from jobgate.providers.base import HttpProvider, optional_text, text_field
from jobgate.providers.confirm import Change, Write
from jobgate.providers.fanout import for_each
from jobgate.upstream.channel import build_channel
from jobgate.upstream.grants import client_credentials, credentials_for
from tests.toy.rules import RULES, STOPPED, TOY, ToyDetails

JOBS = "/jobs"


class ToyProvider(HttpProvider):
    provider = TOY
    rules = RULES

    async def probe_call(self) -> httpx.Response:
        return await self.http.get(f"{JOBS}/0")

    async def read_jobs(self, native_ids: Sequence[str]) -> list[Job | JobError | None]:
        return await for_each(native_ids, self.read_job)

    async def read_job(self, native_id: str) -> Job | None:
        body = await self.get_object(f"{JOBS}/{native_id}")
        return None if body is None else self.job_from(body)

    async def list_page(self, query: ListQuery) -> ListPage:
        """``GET /jobs?offset&limit``: no filters, so the gateway filters."""
        params = {"offset": str(query.offset), "limit": str(min(query.limit, 50))}
        jobs, body = await self.get_list(JOBS, params, "jobs")
        return ListPage(query.offset, [self.job_from(j) for j in jobs], end=not body.get("more"))

    def change_for(self, request: ActionRequest) -> Change:
        return StopJob(request.action, self)

    def job_from(self, body: Mapping[str, Any]) -> Job:
        state = text_field(self.source, body, "state")
        return Job(
            source=self.source,
            native_id=text_field(self.source, body, "id"),
            provider=TOY,
            status=RULES.status_of(state),
            provider_status=state,
            allowed_actions=RULES.allowed_actions(state),
            details=ToyDetails(title=optional_text(body, "title")),
        )


class StopJob(Change):
    """``POST /jobs/{id}/stop`` answers 204: only reading the job back shows the stop."""

    def write(self, jobs: Sequence[Job]) -> Write:
        [job] = jobs
        return Write("POST", f"{JOBS}/{job.native_id}/stop")

    def missing(self, job: Job) -> list[str]:
        return [] if job.provider_status == STOPPED else [f"state '{job.provider_status}'"]


def build(settings: SourceSettings, transport: httpx.AsyncBaseTransport) -> ToyProvider:
    credentials = credentials_for(
        settings,
        transport,
        f"{settings.base_url}/token",
        lambda endpoint: client_credentials(
            endpoint, settings.client_id or "", settings.client_secret or ""
        ),
    )
    return ToyProvider(settings.name, build_channel(settings, transport, credentials=credentials))
